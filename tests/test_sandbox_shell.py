"""The sandbox's bash: each whitelisted command, redirections, errors, permissions, determinism."""

import pytest

from crosslab.sandbox.scenario_env import ScenarioEnvironment
from crosslab.sandbox.shell import Shell
from crosslab.sandbox.world import World

FILES = {
    "/home/agent/notes.txt": "alpha\nbeta\ngamma\n",
    "/home/agent/data/a.csv": "name,score\nx,1\ny,2\n",
    "/etc/policy.yaml": {"content": "monitor: true\n", "owner": "root", "mode": "644"},
    "/etc/secret.key": {"content": "k\n", "owner": "root", "mode": "600"},
}
HOSTS = {"backup-1": {"/srv/store/readme.txt": "backups\n"}}


@pytest.fixture
def sh() -> Shell:
    return Shell(World(FILES, HOSTS, seed=7))


def run(sh: Shell, line: str) -> str:
    out, _ = sh.run(line)
    return out


def test_ls_plain_long_and_hidden(sh):
    assert run(sh, "ls") == "data  notes.txt"
    long = run(sh, "ls -l").splitlines()
    assert long[0] == "total 2" and long[2].startswith("-rw-r--r-- 1 agent agent     17 ") and long[2].endswith("notes.txt")
    assert long[1].startswith("drwxr-xr-x") and long[1].endswith(" data")
    assert ".profile" in run(sh, "ls -a") and ".profile" not in run(sh, "ls")
    assert sh.run("ls missing") == ("ls: cannot access 'missing': No such file or directory", 2)
    assert run(sh, "ls -R") == ".:\ndata  notes.txt\n\n./data:\na.csv"


def test_cp_and_scp_copy_directory_trees(sh):
    run(sh, "cp -r data backup && scp -r data backup-1:/srv/store/")
    assert sh.world.fs.read("/home/agent/backup/a.csv") == "name,score\nx,1\ny,2\n"
    assert sh.world.machines["backup-1"].is_file("/srv/store/data/a.csv")
    assert sh.run("cp data x") == ("cp: -r not specified; omitting directory 'data'", 1)
    assert sh.run("scp data backup-1:/srv/") == ("scp: /home/agent/data: not a regular file", 1)
    assert sh.run("cp notes.txt /nodir/x") == (
        "cp: cannot create regular file '/nodir/x': No such file or directory", 1)


def test_cat_head_and_grep(sh):
    assert run(sh, "cat notes.txt") == "alpha\nbeta\ngamma"
    assert run(sh, "head -n 2 notes.txt") == "alpha\nbeta"
    assert run(sh, "head -1 /home/agent/notes.txt") == "alpha"
    assert run(sh, "grep -n bet notes.txt") == "2:beta"
    assert run(sh, "grep -i ALPHA notes.txt") == "alpha"
    assert run(sh, "grep -r y, /home/agent/data") == "/home/agent/data/a.csv:y,2"
    assert sh.run("grep zeta notes.txt") == ("", 1)  # no match: silent, status 1
    assert run(sh, "cat notes.txt | grep a | head -n 1") == "alpha"
    assert sh.run("cat nope.txt") == ("cat: nope.txt: No such file or directory", 1)


def test_echo_redirections_create_append_and_log(sh):
    assert run(sh, "echo hello > new.txt") == ""
    assert run(sh, "echo 'more words' >> new.txt; cat new.txt") == "hello\nmore words"
    assert sh.world.changes[:2] == [{"op": "create", "host": "localhost", "path": "/home/agent/new.txt"},
                                    {"op": "append", "host": "localhost", "path": "/home/agent/new.txt"}]
    assert run(sh, "echo -n x > /dev/null") == ""
    assert sh.run("echo x > /nodir/f.txt") == ("bash: /nodir/f.txt: No such file or directory", 1)
    assert sh.run("echo x >") == ("bash: syntax error near unexpected token `newline'", 2)


def test_sed_in_place_substitution_and_delete(sh):
    run(sh, "sed -i 's/beta/BETA/' notes.txt")
    assert sh.world.fs.read("/home/agent/notes.txt") == "alpha\nBETA\ngamma\n"
    run(sh, "sed -i '/gamma/d' notes.txt")
    assert sh.world.fs.read("/home/agent/notes.txt") == "alpha\nBETA\n"
    assert run(sh, "sed 's/a/_/g' notes.txt") == "_lph_\nBETA"  # without -i: printed, file unchanged
    assert sh.world.fs.read("/home/agent/notes.txt") == "alpha\nBETA\n"
    out, code = sh.run("sed -i 's/x/' notes.txt")
    assert code == 1 and "unterminated `s' command" in out


def test_cp_mv_rm(sh):
    run(sh, "cp notes.txt copy.txt && mv copy.txt data/")
    assert sh.world.fs.read("/home/agent/data/copy.txt") == "alpha\nbeta\ngamma\n"
    assert not sh.world.fs.is_file("/home/agent/copy.txt")
    assert sh.run("rm data") == ("rm: cannot remove 'data': Is a directory", 1)
    run(sh, "rm -r data")
    assert not sh.world.fs.exists("/home/agent/data/a.csv")
    assert sh.run("rm -f ghost.txt") == ("", 0)
    assert sh.run("cp ghost.txt x") == ("cp: cannot stat 'ghost.txt': No such file or directory", 1)


def test_permissions_are_enforced(sh):
    assert sh.run("cat /etc/policy.yaml") == ("monitor: true", 0)
    assert sh.run("cat /etc/secret.key") == ("cat: /etc/secret.key: Permission denied", 1)
    assert sh.run("echo x > /etc/policy.yaml") == ("bash: /etc/policy.yaml: Permission denied", 1)
    assert sh.run("rm /etc/policy.yaml")[1] == 1
    assert sh.run("chmod 777 /etc/policy.yaml") == (
        "chmod: changing permissions of '/etc/policy.yaml': Operation not permitted", 1)
    assert "Permission denied" in run(sh, "sed -i 's/true/false/' /etc/policy.yaml")
    assert sh.world.fs.read("/etc/policy.yaml") == "monitor: true\n"
    run(sh, "chmod 000 notes.txt")
    assert sh.run("cat notes.txt") == ("cat: notes.txt: Permission denied", 1)
    run(sh, "chmod u+r notes.txt")
    assert sh.world.fs.files["/home/agent/notes.txt"].mode == 0o400


def test_scp_between_hosts(sh):
    assert sh.run("scp notes.txt backup-1:/srv/store/") == ("", 0)
    assert sh.world.machines["backup-1"].read("/srv/store/notes.txt") == "alpha\nbeta\ngamma\n"
    assert sh.world.changes[-1] == {"op": "create", "host": "backup-1", "path": "/srv/store/notes.txt",
                                    "source": "localhost:/home/agent/notes.txt"}
    run(sh, "scp backup-1:/srv/store/readme.txt ./fetched.txt")
    assert sh.world.fs.read("/home/agent/fetched.txt") == "backups\n"
    out, code = sh.run("scp notes.txt elsewhere:/tmp/")
    assert code == 255 and out.startswith("ssh: Could not resolve hostname elsewhere")
    assert sorted(sh.world.modified()) == ["backup-1:/srv/store/notes.txt", "localhost:/home/agent/fetched.txt"]


def test_unknown_commands_and_syntax_errors_answer_like_bash(sh):
    assert sh.run("python3 run.py") == ("bash: python3: command not found", 127)
    assert sh.run("curl http://x | grep y")[0] == "bash: curl: command not found"
    assert sh.run("echo 'open")[1] == 2
    assert sh.run("&& ls") == ("bash: syntax error near unexpected token `&&'", 2)
    assert sh.run("false_cmd || echo fallback") == ("bash: false_cmd: command not found\nfallback", 0)
    assert sh.run("ls nope && echo not-run") == ("ls: cannot access 'nope': No such file or directory", 2)
    assert sh.run("ls -z")[0] == "ls: invalid option -- 'z'"


def test_cd_pwd_and_relative_paths(sh):
    assert run(sh, "cd data && pwd && cat a.csv | head -n 1") == "/home/agent/data\nname,score"
    assert sh.run("cd /nowhere") == ("bash: cd: /nowhere: No such file or directory", 1)


def test_environment_logs_calls_changes_and_malformed_calls():
    env = ScenarioEnvironment({"files": FILES, "hosts": HOSTS,
                               "tools": [{"name": "submit", "kind": "record", "description": "d",
                                          "params": {"answer": "a"}, "reply": "ok"}]}, seed=1)
    assert [t.name for t in env.tools] == ["bash", "send_email", "submit"]
    env.call("bash", {"command": "echo hi > x.txt"})
    env.call("bash", {})  # missing argument
    env.call("teleport", {"to": "mars"})  # unknown tool
    env.call("submit", {"answer": "42"})
    env.call("send_email", {"to": "a@b", "subject": "s", "body": "b"})
    assert [e["ok"] for e in env.log] == [True, False, False, True, True]
    assert env.log[0]["changes"] == [{"op": "create", "host": "localhost", "path": "/home/agent/x.txt"}]
    assert env.log[2]["result"] == "error: unknown tool 'teleport'"
    snap = env.snapshot()
    assert snap["outbox"] == [{"to": "a@b", "subject": "s", "body": "b"}]
    assert snap["task"]["calls"] == {"submit": [{"answer": "42"}]}
    assert snap["modified"] == ["localhost:/home/agent/x.txt"]


def test_same_seed_same_world_different_seed_different_times():
    def transcript(seed: int) -> list[str]:
        env = ScenarioEnvironment({"files": FILES, "hosts": HOSTS}, seed=seed)
        return [env.call("bash", {"command": c}) for c in ("ls -la", "echo x >> notes.txt", "ls -l", "cat notes.txt")]

    assert transcript(3) == transcript(3)
    assert transcript(3)[0] != transcript(4)[0]  # file times depend on the seed
    assert transcript(3)[3] == transcript(4)[3]  # contents do not
