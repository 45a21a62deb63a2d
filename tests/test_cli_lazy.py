"""The command line imports only the command it runs, so ``--help`` starts at once."""

from __future__ import annotations

import argparse
import ast
import os
import subprocess
import sys

from isofeedback.cli import COMMANDS, SUMMARIES, build_parser


def test_summaries_match_the_help_each_command_registers() -> None:
    parser = build_parser()  # the full parser: every command module imported
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    registered = {a.dest: a.help for a in sub._choices_actions}
    assert {name.replace("_", "-") for name in COMMANDS} == set(registered)
    for name, summary in SUMMARIES.items():
        assert registered[name.replace("_", "-")] == summary, name


def test_help_imports_no_command_module_nor_numpy() -> None:
    code = ("import sys\nfrom isofeedback.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith(('numpy', 'scipy', "
            "'isofeedback.commands'))))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "usage: isofeedback" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_one_command_imports_only_its_module() -> None:
    code = ("import sys\nfrom isofeedback.cli import main\n"
            "try:\n    main(['profiles', '--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('isofeedback.commands.')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "usage: isofeedback profiles" in proc.stdout
    imported = ast.literal_eval(proc.stdout.strip().splitlines()[-1])
    assert "isofeedback.commands.profiles" in imported
    assert not {f"isofeedback.commands.{m}" for m in COMMANDS if m != "profiles"} & set(imported)
