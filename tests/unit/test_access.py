import pytest

from handlers.operations.access import Forbidden, Permission, Role, allowed, mask_phone, personal, require


def test_only_operators_see_names_and_phone_numbers_in_full():
    assert personal(Role.OPERATOR, "王秀英", "13800000001") == {"name": "王秀英", "phone": "13800000001"}
    assert personal(Role.SUPERVISOR, "王秀英", "13800000001") == {"name": "王**", "phone": "138******01"}
    assert personal(Role.ADMIN, "Anna", None) == {"name": "A***", "phone": ""}


def test_admins_keep_accounts_but_do_not_dispatch():
    assert allowed(Role.ADMIN, Permission.MANAGE_OPERATORS)
    assert not allowed(Role.ADMIN, Permission.ASSIGN_REQUEST)
    with pytest.raises(Forbidden):
        require(Role.OPERATOR, Permission.MANAGE_OPERATORS)


def test_supervisors_step_in_but_do_not_take_calls():
    assert allowed(Role.SUPERVISOR, Permission.ASSIGN_REQUEST)
    assert not allowed(Role.SUPERVISOR, Permission.CREATE_REQUEST)
    assert not allowed(Role.SUPERVISOR, Permission.ACKNOWLEDGE_EMERGENCY)


def test_an_unknown_role_may_do_nothing():
    assert not any(allowed("janitor", p) for p in Permission)


def test_short_numbers_are_masked_whole():
    assert mask_phone("110") == "***"
