"""A LiteLLM proxy `config.yaml` as ragline deployments (`llm.litellm_config: litellm.yaml`).

    LlmConfig(litellm_config=Path("litellm.yaml"))      # model_list -> llm.deployments, policy ab
    models = map_model_list(yaml.safe_load(text), group="chat", environ=os.environ)
    models.deployments    # (Deployment(model="openai:gpt-4o-mini", base_url=..., api_key_env=...),)

How one `model_list` entry maps to a `Deployment`:
- `litellm_params.model`: "openai/<m>" -> "openai:<m>", "anthropic/<m>" -> "anthropic:<m>",
  "hosted_vllm/<m>" -> "vllm:<m>" (`ragline.core.pricing.LITELLM_PROVIDERS`). Any other
  prefix, or none, is refused with the supported ones: ragline has no adapter to send it to.
  "openai/<m>" with an `api_base` stays `openai` (an OpenAI-compatible server that wants a
  key, priced as OpenAI's <m>); a keyless server is `hosted_vllm/<m>`.
- `api_base` -> the deployment's `base_url`; "os.environ/NAME" is read from the environment
  when the settings load (a URL is not a secret).
- `api_key: os.environ/NAME` -> `api_key_env: NAME`: the key is read from NAME when the model
  is built, never copied into the settings. A literal key is refused (the message does not
  repeat it). No `api_key`: the provider's own variable (llm.openai.api_key_env, ...).
- `weight` -> the deployment's A/B weight (1 when absent).

Groups: entries that share a `model_name` are LiteLLM's load-balanced group. ragline answers
with one group, `llm.litellm_model_name` (default: the first in the file), and LiteLLM's load
balancing becomes the `ab` policy: with `llm.policy: fixed` (the default) the policy is set to
`ab`, so each request (sticky per key) goes to a deployment drawn by weight and the group's
other deployments are its fallbacks, then `llm.fallbacks`. `cascade` and `cost` keep their
meaning over the group. `ragline chat --model openai:<m>` asks one entry, at its endpoint.

Ignored, in one logged warning: the other groups, `router_settings`, `litellm_settings`,
`general_settings`, `environment_variables` (never read: it may hold keys) and litellm_params
ragline has its own settings for (rpm/tpm: llm.rate_limit; timeout: llm.retry.timeout_s).
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from ragline.core.pricing import LITELLM_PROVIDERS
from ragline.llm_router.policies import Deployment

log = logging.getLogger(__name__)

ENV_REF = "os.environ/"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_USED_PARAMS = frozenset({"model", "api_base", "api_key", "weight"})
_SUPPORTED = ", ".join(f"{prefix}/" for prefix in sorted(LITELLM_PROVIDERS))


class LiteLLMConfigError(ValueError):
    """A LiteLLM config ragline cannot use as it is; the message says what to change."""


@dataclass(frozen=True, slots=True)
class LiteLLMModels:
    """The deployments of one `model_name` group, and what of the file ragline ignored.

    LiteLLMModels(group="chat", deployments=(Deployment(model="openai:gpt-4o-mini"),), ignored=())
    """

    group: str
    deployments: tuple[Deployment, ...]
    ignored: tuple[str, ...]


def map_model_list(
    raw: object, *, group: str | None = None, environ: Mapping[str, str] | None = None
) -> LiteLLMModels:
    """The deployments of `group` (None: the first model_name) in a parsed LiteLLM config."""
    entries = _entries(raw)
    groups = list(dict.fromkeys(name for name, _ in entries))
    chosen = groups[0] if group is None else group
    if chosen not in groups:
        raise LiteLLMConfigError(
            f"llm.litellm_model_name {chosen!r} is not a model_name of the LiteLLM config; "
            f"its model_names: {', '.join(groups)}"
        )
    params = [p for name, p in entries if name == chosen]
    deployments = tuple(to_deployment(p, chosen, environ or {}) for p in params)
    _check_distinct(deployments, chosen)
    assert isinstance(raw, Mapping)  # _entries checked it
    ignored = [
        *(str(key) for key in raw if key != "model_list"),
        *(f"model_name {name}" for name in groups if name != chosen),
        *sorted({f"litellm_params.{key}" for p in params for key in p if key not in _USED_PARAMS}),
    ]
    return LiteLLMModels(chosen, deployments, tuple(ignored))


def to_deployment(
    params: Mapping[str, object], model_name: str, environ: Mapping[str, str]
) -> Deployment:
    """One entry's `litellm_params` as a ragline deployment (see the module docstring)."""
    where = f"LiteLLM model_list entry {model_name!r}"
    model = params.get("model")
    if not isinstance(model, str) or not model.strip():
        raise LiteLLMConfigError(f"{where}: litellm_params.model must name the model")
    prefix, sep, name = model.strip().partition("/")
    provider = LITELLM_PROVIDERS.get(prefix) if sep and name else None
    if provider is None:
        raise LiteLLMConfigError(
            f"{where}: model {model!r} has a provider prefix ragline does not support; "
            f"supported: {_SUPPORTED} (e.g. openai/gpt-4o-mini; hosted_vllm/<model> for a "
            "vLLM or other keyless OpenAI-compatible server)"
        )
    return Deployment(
        model=f"{provider}:{name}",
        base_url=_base_url(params.get("api_base"), where, environ),
        api_key_env=_key_env(params.get("api_key"), where),
        weight=_weight(params.get("weight", 1), where),
    )


def load_litellm_config(path: Path, group: str | None = None) -> LiteLLMModels:
    """`map_model_list` over the YAML file `path`; what ragline ignores is logged once."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LiteLLMConfigError(
            f"llm.litellm_config {path} cannot be read ({exc.strerror}); fix the path "
            "(relative paths start in the working directory) or set it to null"
        ) from None
    except yaml.YAMLError as exc:
        raise LiteLLMConfigError(f"llm.litellm_config {path} is not valid YAML: {exc}") from None
    models = map_model_list(raw, group=group, environ=os.environ)
    if models.ignored:
        log.warning(
            "llm.litellm_config %s: ragline uses model_name %r and ignores %s "
            "(ragline's llm.* settings cover routing, retries, limits and caching)",
            path,
            models.group,
            ", ".join(models.ignored),
        )
    return models


def apply_litellm(data: dict[str, object]) -> dict[str, object]:
    """The raw `llm` settings with `litellm_config`'s deployments, and policy `fixed` turned
    into `ab` (LiteLLM's load balancing); `LlmConfig` calls it before validating. Applying it
    twice (settings dumped and validated again) gives the same result."""
    path = data.get("litellm_config")
    if path is None:
        return data
    group = data.get("litellm_model_name")
    models = load_litellm_config(Path(str(path)), group if isinstance(group, str) else None)
    given = data.get("deployments") or ()
    if given and _deployments(given) != models.deployments:
        raise LiteLLMConfigError(
            f"llm.deployments and llm.litellm_config ({path}) both list deployments; "
            "keep one of them (set llm.deployments: [] to use the LiteLLM model_list)"
        )
    policy = data.get("policy", "fixed")
    policy = "ab" if policy == "fixed" else policy
    return {**data, "deployments": models.deployments, "policy": policy}


def _entries(raw: object) -> list[tuple[str, Mapping[str, object]]]:
    example = "model_list: [{model_name: chat, litellm_params: {model: openai/gpt-4o-mini}}]"
    models = raw.get("model_list") if isinstance(raw, Mapping) else None
    if not isinstance(models, list) or not models:
        raise LiteLLMConfigError(f"a LiteLLM config needs a non-empty model_list, e.g. {example}")
    entries = []
    for position, entry in enumerate(models, 1):
        name = entry.get("model_name") if isinstance(entry, Mapping) else None
        params = entry.get("litellm_params") if isinstance(entry, Mapping) else None
        if not isinstance(name, str) or not name or not isinstance(params, Mapping):
            raise LiteLLMConfigError(
                f"LiteLLM model_list entry {position} needs model_name and litellm_params, "
                f"e.g. {example}"
            )
        entries.append((name, params))
    return entries


def _base_url(value: object, where: str, environ: Mapping[str, str]) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and value.startswith(ENV_REF):
        name = value.removeprefix(ENV_REF)
        value = environ.get(name, "").strip()
        if not value:
            raise LiteLLMConfigError(
                f"{where}: api_base reads {name} from the environment, which is not set; "
                "set it to the server's URL or write the URL in api_base"
            )
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise LiteLLMConfigError(
            f"{where}: api_base must be an http(s) URL (e.g. http://127.0.0.1:8000/v1), "
            f"got {value!r}"
        )
    return value


def _key_env(value: object, where: str) -> str | None:
    if value is None:
        return None
    name = value.removeprefix(ENV_REF) if isinstance(value, str) else ""
    if isinstance(value, str) and value.startswith(ENV_REF) and _ENV_NAME.match(name):
        return name
    # Never echo the value: it may be a real key.
    raise LiteLLMConfigError(
        f"{where}: api_key must be os.environ/NAME; ragline does not copy keys into its "
        "settings: put the key in an environment variable and write api_key: os.environ/NAME"
    )


def _weight(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise LiteLLMConfigError(f"{where}: weight must be a number > 0, got {value!r}")
    if value <= 0:
        raise LiteLLMConfigError(f"{where}: weight must be > 0, got {value}")
    return float(value)


def _check_distinct(deployments: Sequence[Deployment], group: str) -> None:
    models = [d.model for d in deployments]
    twice = sorted({m for m in models if models.count(m) > 1})
    if twice:
        raise LiteLLMConfigError(
            f"LiteLLM model_name {group!r} lists {', '.join(twice)} more than once; ragline "
            "tells deployments apart by 'provider:model' (breakers, stats, prices): serve each "
            "under its own model id (e.g. vLLM's --served-model-name) or keep one entry"
        )


def _deployments(given: object) -> tuple[Deployment, ...] | None:
    if not isinstance(given, list | tuple):
        return None
    try:
        return tuple(
            d if isinstance(d, Deployment) else Deployment.model_validate(d) for d in given
        )
    except ValidationError:
        return None
