"""The bootstrap: read and check every configuration file once, and build the
parts each careline process shares — settings, the policies, database
sessions, the service areas' dispatch contexts and the channels' adapters.

Every entry point starts here (``careline worker``, ``web``, ``scheduler``,
the CLI's commands): a bad ``policy.toml``, ``evaluation.toml`` or
``ivr.toml``, or a text catalog (``config/locale``) refuses to start, naming the file, the line and the key
(``config.files.ConfigFileError``), instead of dead-lettering every record
later. Tests build their own ``Runtime`` with ``bootstrap(Settings(...))``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from channels.context import ChannelContext
from config.evaluation import EvaluationConfig, load_evaluation_config
from config.ivr import load_ivr_config
from config.locale import load_texts
from config.policy import load_policy
from config.settings import Settings, get_settings
from db.areas import AreaContexts
from db.session import Session, session_factory, sessionmaker
from handlers.channels.ivr import IvrConfig
from handlers.dispatch.scheduling import DispatchPolicy


@dataclass(frozen=True)
class Configuration:
    """The checked policy files: the routing policy (``policy``: with the
    settings' offer-timeout override and the evaluation's exploration share),
    the evaluation policy and the hotline's menus."""

    policy: DispatchPolicy
    evaluation: EvaluationConfig
    ivr: IvrConfig


def load_configuration(settings: Settings) -> Configuration:
    """Every configuration file the settings name, checked; raises
    ``config.files.ConfigFileError`` (file, line, key) for the first bad one."""
    evaluation = load_evaluation_config(settings.evaluation_file)
    policy = replace(load_policy(settings.policy_file), exploration_share=evaluation.exploration_share)
    if settings.offer_timeout_seconds is not None:
        policy = replace(policy, offer_timeout_seconds=settings.offer_timeout_seconds)
    return Configuration(policy, evaluation, load_ivr_config(settings.ivr_config, load_texts()))


@dataclass(frozen=True)
class Runtime:
    """What one process shares: ``sessions`` (a ``db.session.sessionmaker``),
    ``areas`` (``get(service_area) -> AreaContext``) and ``channels`` (the
    channels' context: notifier, clock, callback URLs)."""

    settings: Settings
    configuration: Configuration
    sessions: sessionmaker[Session]
    areas: AreaContexts
    channels: ChannelContext


def bootstrap(settings: Settings | None = None) -> Runtime:
    """A ``Runtime`` for ``settings`` (default: the environment's). Raises
    ``ConfigFileError`` for a bad configuration file."""
    settings = settings or get_settings()
    configuration = load_configuration(settings)
    sessions = session_factory(settings.database_url)
    return Runtime(
        settings,
        configuration,
        sessions,
        AreaContexts(sessions, configuration.policy, road_network=settings.road_network),
        ChannelContext.build(settings, sessions, configuration.ivr),
    )
