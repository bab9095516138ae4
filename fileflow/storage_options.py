"""Storage options of remote files: what a Flowfile's `storage:`, a profile's `storage` or
`--storage PROTOCOL:KEY=VALUE` says of one protocol's store, and the keyword arguments of the
fsspec file system it becomes. Layer 0: pure, no I/O; the loader checks a Flowfile's options
with it, the remote layer opens file systems with what it gives.

The common settings have fileflow's own names, translated per backend:

| name | s3 (s3fs) | gs, gcs (gcsfs) | http, https | any other protocol |
|---|---|---|---|---|
| `endpoint` (URL) | `endpoint_url` | `endpoint_url` | - | `endpoint_url` |
| `profile` (name) | `profile` | - | - | `profile` |
| `region` (name) | `client_kwargs.region_name` | - | - | `region` |
| `anonymous` (bool) | `anon` | `token: "anon"` | nothing to do | `anon` |
| `headers` (mapping) | - | - | `headers` (every request) | `headers` |

Any other key is the backend's own keyword argument and passes as it is (`version_aware`,
`config_kwargs`, `requester_pays`, ...). A name marked "-" is an error for that protocol.
"""
from __future__ import annotations

from collections.abc import Mapping

__all__ = ["FRIENDLY", "backend_options", "merge_storage", "check_storage"]

FRIENDLY = ("endpoint", "profile", "region", "anonymous", "headers")
_GCS = ("gs", "gcs")
_HTTP = ("http", "https")
_APPLIES: dict[str, tuple[str, ...]] = {
    "s3": ("endpoint", "profile", "region", "anonymous"),
    "gs": ("endpoint", "anonymous"), "gcs": ("endpoint", "anonymous"),
    "http": ("anonymous", "headers"), "https": ("anonymous", "headers"),
}


def _checked(protocol: str, key: str, value: object) -> object:
    """`value` when it has the type the friendly option `key` takes; ValueError otherwise."""
    if key not in _APPLIES.get(protocol, FRIENDLY):
        takes = ", ".join(_APPLIES.get(protocol, FRIENDLY))
        raise ValueError(f"storage option {key!r} does not apply to {protocol}:// (it takes "
                         f"{takes}, or the backend's own keyword arguments)")
    if key == "anonymous":
        if not isinstance(value, bool):
            raise ValueError(f"storage option 'anonymous' of {protocol}:// takes true or "
                             f"false, not {value!r}")
    elif key == "headers":
        if not isinstance(value, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise ValueError(f"storage option 'headers' of {protocol}:// takes a mapping of "
                             "header names to strings")
    elif not isinstance(value, str) or not value:
        raise ValueError(f"storage option {key!r} of {protocol}:// takes a non-empty string")
    return value


def backend_options(protocol: str, options: Mapping[str, object]) -> dict[str, object]:
    """`options` (fileflow's names and the backend's own) as the keyword arguments of the
    fsspec file system of `protocol`. Raises ValueError for an option that does not apply
    or has the wrong type."""
    out: dict[str, object] = {k: v for k, v in options.items() if k not in FRIENDLY}
    for key in FRIENDLY:
        if key not in options:
            continue
        value = _checked(protocol, key, options[key])
        if key == "endpoint":
            out["endpoint_url"] = value
        elif key == "region" and protocol == "s3":
            earlier = out.get("client_kwargs")
            client = dict(earlier) if isinstance(earlier, Mapping) else {}
            client["region_name"] = value
            out["client_kwargs"] = client
        elif key == "anonymous":
            if protocol in _GCS:
                if value:
                    out["token"] = "anon"
            elif protocol not in _HTTP:
                out["anon"] = value
        elif key == "headers":
            earlier = out.get("headers")
            out["headers"] = {**(earlier if isinstance(earlier, Mapping) else {}),
                              **value}  # type: ignore[dict-item]
        else:  # profile; region elsewhere
            out[key] = value
    return out


def check_storage(options: object, where: str) -> dict[str, dict[str, object]]:
    """A mapping of protocol -> mapping of option -> value, checked (`backend_options`);
    ValueError naming `where` otherwise."""
    if not isinstance(options, Mapping):
        raise ValueError(f"{where}: storage options are a mapping of protocol (s3, gs, "
                         "https, ...) to options")
    out: dict[str, dict[str, object]] = {}
    for protocol, given in options.items():
        if not isinstance(protocol, str) or not protocol.isidentifier():
            raise ValueError(f"{where}: {protocol!r} is not a protocol name (s3, gs, https, ...)")
        if not isinstance(given, Mapping) or not all(isinstance(k, str) for k in given):
            raise ValueError(f"{where}: the storage options of {protocol}:// are a mapping of "
                             "option names to values")
        try:
            backend_options(protocol, given)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        out[protocol] = dict(given)
    return out


def merge_storage(*layers: Mapping[str, Mapping[str, object]]) -> dict[str, dict[str, object]]:
    """Per protocol, the options of later layers over those of earlier ones (the Flowfile,
    then a profile, then the command line)."""
    out: dict[str, dict[str, object]] = {}
    for layer in layers:
        for protocol, options in layer.items():
            out.setdefault(protocol, {}).update(options)
    return out
