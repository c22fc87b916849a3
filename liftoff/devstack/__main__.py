"""Command line of the local stack, called by the Makefile.

    python -m liftoff.devstack env             # shell `export` lines for the stack's environment
    python -m liftoff.devstack warehouse-url   # libpq URL of the warehouse (starts Postgres)
    python -m liftoff.devstack run -- CMD ...  # run CMD inside the stack's environment, the venv
                                                 # first on PATH (make demo, make shell)
    python -m liftoff.devstack prepare         # migrate Airflow's and the CRM's DBs, apply
                                                 # airflow_settings.yaml, the read-only roles
                                                 # (dashboard, analyst: liftoff.warehouse.roles)
    python -m liftoff.devstack up | down | pg-stop

Every command runs with umask 077 (so do the processes it starts, `make demo` and `make shell`):
what the stack writes is readable by its owner only; `prepare` and `up` also make an existing
state folder private (liftoff.devstack.stack.secure_state_folder).

`env`, `run` and `up` are the user's local stack: they also start the mail outbox (and point
`smtp_default` at it unless you configured your own) and un-pause DAGs at creation.

Errors a user can fix print as one line (`liftoff: ...`) with exit code 2, never a traceback.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import sys

from liftoff.devstack import stack
from liftoff.devstack.errors import LocalStackError
from liftoff.private_files import PRIVATE_UMASK


def main(argv: list[str]) -> int:
    # Everything the stack writes (state folder, logs, the processes it starts, `make demo`'s and
    # `make shell`'s commands) is its owner's only: 0600 files, 0700 folders.
    os.umask(PRIVATE_UMASK)
    if not argv:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "env":
        with contextlib.redirect_stdout(sys.stderr):  # stdout is for the `export` lines only
            env = stack.environment(local_stack=True)
        for key, value in sorted(env.items()):
            print(f"export {key}={shlex.quote(value)}")
    elif command == "warehouse-url":
        print(stack.warehouse_url(stack.environment()))
    elif command == "run":
        if rest[:1] == ["--"]:
            rest = rest[1:]
        if not rest:
            raise LocalStackError("`run` needs a command after `--`")
        env = stack.with_venv_on_path({**os.environ, **stack.environment(local_stack=True)})
        return subprocess.run(rest, env=env).returncode
    elif command == "prepare":
        stack.prepare(stack.environment())
    elif command == "up":
        env = stack.environment(local_stack=True)
        stack.prepare(env)
        env |= stack.crm_api_env()  # the extraction's key, minted by prepare on a first start
        stack.up(env)
    elif command == "down":
        stack.down()
    elif command == "pg-stop":
        stack.embedded_postgres().stop()
    else:
        raise LocalStackError(f"unknown command {command!r}; see `python -m liftoff.devstack`")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except LocalStackError as error:
        print(f"liftoff: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
