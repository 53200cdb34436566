import pytest

from handlers.operations.access import (
    Account,
    Forbidden,
    LastGlobalAdmin,
    OutOfScope,
    Permission,
    Role,
    allowed,
    check_deactivation,
    check_manages,
    check_placement,
    mask_phone,
    personal,
    require,
    visible_accounts,
)

NANJING, GULOU, XUANWU = "江苏省/南京市", "江苏省/南京市/鼓楼区", "江苏省/南京市/玄武区"


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


def test_an_admin_manages_accounts_within_its_scope_never_wider():
    check_manages(NANJING, GULOU)
    check_manages(NANJING, NANJING)
    check_manages("", "")
    for wider in ("", "江苏省", "江苏省/南京市区"):
        with pytest.raises(OutOfScope):
            check_manages(NANJING, wider)


def test_a_district_admin_sees_only_accounts_of_its_district():
    accounts = [
        Account("a", Role.ADMIN, "", True),
        Account("b", Role.OPERATOR, GULOU, True),
        Account("c", Role.OPERATOR, XUANWU, True),
        Account("d", Role.SUPERVISOR, GULOU + "/宁海路街道", True),
    ]
    assert [a.operator_id for a in visible_accounts(GULOU, accounts)] == ["b", "d"]
    assert len(visible_accounts("", accounts)) == 4


def test_the_last_active_global_admin_cannot_be_deactivated_but_a_second_one_can():
    last = Account("adm", Role.ADMIN, "", True)
    with pytest.raises(LastGlobalAdmin):
        check_deactivation("", last, active_global_admins=1)
    check_deactivation("", last, active_global_admins=2)
    check_deactivation("", Account("gl", Role.ADMIN, GULOU, True), active_global_admins=1)
    with pytest.raises(OutOfScope):
        check_deactivation(GULOU, last, active_global_admins=2)


def test_an_area_moves_only_from_and_to_a_region_inside_the_admins_scope():
    check_placement("", None, XUANWU)
    check_placement(GULOU, GULOU + "/a", GULOU + "/b")
    for current, new in (
        (XUANWU + "/a", GULOU + "/b"),
        (GULOU + "/a", XUANWU + "/b"),
        (None, GULOU + "/b"),
        (GULOU + "/a", ""),
    ):
        with pytest.raises(OutOfScope):
            check_placement(GULOU, current, new)
