"""Render the IVR's neutral steps as TwiML (``twilio.twiml``): ``Say`` ->
``<Say voice language>``, ``Gather`` -> ``<Gather input="dtmf" numDigits timeout
action actionOnEmptyResult>`` (so a timeout posts an empty ``Digits`` to the
action instead of falling through), ``Enqueue`` -> ``<Enqueue>``, ``Hangup``."""

from __future__ import annotations

from typing import Callable, Iterable

from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from handlers.channels.ivr import Enqueue, Gather, Hangup, Say, Step

#: where each Gather action (stage) of ``handlers.channels.ivr`` is answered
ACTION_PATHS = {
    stage: f"/twilio/voice/{stage}"
    for stage in ("menu", "service", "time", "confirm", "complaint", "checkin", "rating")
}


def voice(steps: Iterable[Step], url: Callable[..., str]) -> str:
    """TwiML for ``steps``; ``url(path, **params)`` builds public callback URLs."""
    response = VoiceResponse()
    for step in steps:
        if isinstance(step, Say):
            response.say(step.text, voice=step.voice, language=step.language)
        elif isinstance(step, Gather):
            gather = response.gather(
                input="dtmf",
                num_digits=step.num_digits,
                timeout=step.timeout_seconds,
                action=url(ACTION_PATHS[step.action], **dict(step.params)),
                method="POST",
                action_on_empty_result=True,
            )
            for prompt in step.prompts:
                gather.say(prompt.text, voice=prompt.voice, language=prompt.language)
        elif isinstance(step, Enqueue):
            response.enqueue(step.queue)
        elif isinstance(step, Hangup):
            response.hangup()
    return str(response)


def message(text: str | None) -> str:
    """A ``<Response>`` with one ``<Message>``, or empty (no reply) for None."""
    response = MessagingResponse()
    if text:
        response.message(text)
    return str(response)
