"""`budbringer user add EMAIL --role admin [--name ...]`, `user list`, `user password EMAIL`.

The address may also be given as `--email EMAIL`. The password is asked for twice at the
terminal, or read from standard input with `--password-stdin` (one line, for scripts), or
from a file with `--password-file FILE` (its first line; a container secret). It is never
an argument (shell history, `ps`). Without a terminal and without either option the
command says so and exits 2; it does not wait for input that cannot come.

`user add --if-no-users` adds the user only when there is no staff user yet: the image's
entrypoint makes the first admin with it on every start, and only the first start adds one.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from service.cli.common import cli_actor, open_runtime
from service.errors import DomainError

NO_TERMINAL = ("Error: there is no terminal to ask for the password. Pass it on standard input with "
               "--password-stdin, or in a file with --password-file FILE.")


def _read_password(args) -> str | None:
    if args.password_file is not None:
        try:
            lines = args.password_file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            print(f"Error: cannot read the password file {args.password_file}: {exc.strerror}", file=sys.stderr)
            return None
        return lines[0] if lines else ""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        print(NO_TERMINAL, file=sys.stderr)
        return None
    try:
        first = getpass.getpass("Password: ")
        again = getpass.getpass("Repeat password: ")
    except EOFError:
        print(NO_TERMINAL, file=sys.stderr)
        return None
    if again != first:
        print("Error: the two passwords differ.", file=sys.stderr)
        return None
    return first


def _email(args) -> str:
    return args.email_option or args.email


async def user_add(args) -> int:
    from sqlalchemy import func, select

    from service.audit import record
    from service.db.models import User
    from service.staff.users import add_user

    email = _email(args)
    async with open_runtime(args) as runtime:
        if args.if_no_users:
            async with runtime.db.reader() as s:
                if await s.scalar(select(func.count()).select_from(User)):
                    print("Staff users exist already; no user added.")
                    return 0
        password = _read_password(args)
        if password is None:
            return 2
        try:
            async with runtime.db.transaction() as s:
                uid = await add_user(s, email, role=args.role, password=password, name=args.name or "",
                                     now=runtime.clock.now())
                await record(s, actor=cli_actor(), action="user.add", target=f"user:{uid}",
                             detail={"email": email, "role": args.role}, now=runtime.clock.now())
        except DomainError as exc:
            print(f"Error: {exc.message}", file=sys.stderr)
            return 1
        login = f"{runtime.settings.service.base_url}/admin/login"
    print(f"Added {email.strip().lower()} ({args.role}). Log in at {login}")
    return 0


async def user_list(args) -> int:
    from service.staff.users import list_users

    async with open_runtime(args) as runtime:
        async with runtime.db.reader() as s:
            users = await list_users(s)
    if not users:
        print("No staff users. Add the first admin with `budbringer user add EMAIL --role admin`.")
    for u in users:
        last = u.last_login_at.strftime("%Y-%m-%d %H:%M UTC") if u.last_login_at else "never"
        state = "active" if u.active else "inactive"
        print(f"{u.email:40} {u.role:7} {state:8} last login {last}  {u.name}")
    return 0


async def user_password(args) -> int:
    from service.audit import record
    from service.staff.auth import set_password
    from service.staff.users import find_user

    email = _email(args)
    async with open_runtime(args) as runtime:
        password = _read_password(args)
        if password is None:
            return 2
        try:
            async with runtime.db.transaction() as s:
                user = await find_user(s, email)
                await set_password(s, user.id, password)
                await record(s, actor=cli_actor(), action="user.password", target=f"user:{user.id}", now=runtime.clock.now())
        except DomainError as exc:
            print(f"Error: {exc.message}", file=sys.stderr)
            return 1
    print(f"Password changed for {email.strip().lower()}; their sessions have ended.")
    return 0


def _address_and_password(p: argparse.ArgumentParser) -> None:
    p.add_argument("email", nargs="?", help="the user's address (or --email)")
    p.add_argument("--email", dest="email_option", metavar="EMAIL", help="the user's address")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--password-stdin", action="store_true", help="read the password from standard input (one line)")
    how.add_argument("--password-file", type=Path, metavar="FILE", help="read the password from FILE (its first line)")


def _check_address(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if bool(args.email) == bool(args.email_option):
        parser.error("give the address once: `user add you@example.dk …` or `user add --email you@example.dk …`")


def register(sub) -> None:
    user = sub.add_parser("user", help="staff accounts for the admin").add_subparsers(dest="user_command", required=True)
    add = user.add_parser("add", help="add a staff user (the first admin, too)")
    _address_and_password(add)
    add.add_argument("--role", choices=("admin", "press", "editor"), required=True)
    add.add_argument("--name", default="")
    add.add_argument("--if-no-users", action="store_true",
                     help="add the user only when there is no staff user yet (for a container's first start)")
    add.set_defaults(func=user_add, check=lambda args: _check_address(add, args))
    ls = user.add_parser("list", help="list staff users")
    ls.set_defaults(func=user_list)
    pw = user.add_parser("password", help="set a user's password (ends their sessions)")
    _address_and_password(pw)
    pw.set_defaults(func=user_password, check=lambda args: _check_address(pw, args))
