"""`budbringer user add EMAIL --role admin [--name ...]`, `user list`, `user password EMAIL`.

The password is asked for twice at the terminal, or read from standard input with
`--password-stdin` (one line, for scripts). It is never an argument (shell history).
"""

from __future__ import annotations

import getpass
import sys

from service.cli.common import cli_actor, open_runtime
from service.errors import DomainError


def _read_password(args) -> str | None:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        print("Error: the two passwords differ.", file=sys.stderr)
        return None
    return first


async def user_add(args) -> int:
    from service.audit import record
    from service.staff.users import add_user

    password = _read_password(args)
    if password is None:
        return 2
    async with open_runtime(args) as runtime:
        try:
            async with runtime.db.transaction() as s:
                uid = await add_user(s, args.email, role=args.role, password=password, name=args.name or "",
                                     now=runtime.clock.now())
                await record(s, actor=cli_actor(), action="user.add", target=f"user:{uid}",
                             detail={"email": args.email, "role": args.role}, now=runtime.clock.now())
        except DomainError as exc:
            print(f"Error: {exc.message}", file=sys.stderr)
            return 1
    print(f"Added {args.email.strip().lower()} ({args.role}). Log in at /admin/login.")
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

    password = _read_password(args)
    if password is None:
        return 2
    async with open_runtime(args) as runtime:
        try:
            async with runtime.db.transaction() as s:
                user = await find_user(s, args.email)
                await set_password(s, user.id, password)
                await record(s, actor=cli_actor(), action="user.password", target=f"user:{user.id}", now=runtime.clock.now())
        except DomainError as exc:
            print(f"Error: {exc.message}", file=sys.stderr)
            return 1
    print(f"Password changed for {args.email.strip().lower()}; their sessions have ended.")
    return 0


def register(sub) -> None:
    user = sub.add_parser("user", help="staff accounts for the admin").add_subparsers(dest="user_command", required=True)
    add = user.add_parser("add", help="add a staff user (the first admin, too)")
    add.add_argument("email")
    add.add_argument("--role", choices=("admin", "press", "editor"), required=True)
    add.add_argument("--name", default="")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(func=user_add)
    ls = user.add_parser("list", help="list staff users")
    ls.set_defaults(func=user_list)
    pw = user.add_parser("password", help="set a user's password (ends their sessions)")
    pw.add_argument("email")
    pw.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    pw.set_defaults(func=user_password)
