from crosslab.cli.app import main

main()
