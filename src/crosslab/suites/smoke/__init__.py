"""The smoke suite: small, harmless items that show every interaction type and disclosure tier working.

The tiers here are for exercising the disclosure machinery (two items restricted,
one withheld); nothing in this suite is hazardous."""
