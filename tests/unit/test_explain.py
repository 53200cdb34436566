from handlers.dispatch import offers
from handlers.dispatch.explain import explain
from handlers.dispatch.scheduling import DispatchPolicy
from handlers.simulation.memory import InMemoryUnitOfWork
from tests.unit.factories import at, caregiver, elder, line_travel, request


def history(uow, rid):
    return [{"type": e.type, "time": e.time.isoformat(), "data": e.payload} for e in uow.events if e.subject == rid]


def test_an_explanation_names_the_chosen_caregiver_the_runner_up_and_why_others_were_excluded():
    uow = InMemoryUnitOfWork()
    for c in (caregiver("near", home=3), caregiver("far", home=0), caregiver("cook", "meal", home=4)):
        uow.caregivers.add(c)
    uow.elders.add(elder("e4", 4))
    offers.receive_request(request("r", 4, service="bathing"), uow, at(0), DispatchPolicy(), line_travel())
    text = "\n".join(explain(history(uow, "r")))
    assert "1. near" in text and "2. far" in text
    assert "not cook: lacks the ability bathing" in text
    assert "offered to near" in text and "policy 2026-11-30.1" in text
