"""Run inside Mailman 3, by the interpreter of its own virtualenv (var/compare/mailman-venv):

    mailman -C CFG shell -r mailman_list.setup POSTING-ADDRESS MEMBERS-FILE

One list, personalised (each member gets a copy of their own, addressed to them, through
Mailman's individual delivery), that takes a post from a non-member (the newsletter's
editor) without holding it, with one member per line "Name <address>" of MEMBERS-FILE,
each address already verified. Mailman commits when the function returns.
"""

from email.utils import parseaddr


def setup(posting_address: str, members: str) -> None:
    from mailman.app.lifecycle import create_list
    from mailman.interfaces.action import Action
    from mailman.interfaces.domain import IDomainManager
    from mailman.interfaces.mailinglist import Personalization
    from mailman.interfaces.usermanager import IUserManager
    from mailman.utilities.datetime import now
    from zope.component import getUtility

    getUtility(IDomainManager).add(posting_address.split("@", 1)[1])
    mlist = create_list(posting_address)
    mlist.personalize = Personalization.individual
    mlist.default_nonmember_action = Action.accept
    mlist.send_welcome_message = False
    users = getUtility(IUserManager)
    with open(members, encoding="utf-8") as lines:
        for line in lines:
            name, email = parseaddr(line.strip())
            address = users.create_address(email, name)
            address.verified_on = now()
            mlist.subscribe(address)
    print(mlist.members.member_count, flush=True)
