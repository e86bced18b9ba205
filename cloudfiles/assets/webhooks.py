"""Webhooks called after export."""
from __future__ import annotations

from cloudfiles.exceptions import NetworkError


def call_webhooks(hooks: list, results: list) -> list[dict]:
    """Call each webhook; a failing call raises NetworkError naming its URL."""
    import requests

    out = []
    for h in hooks:
        kwargs = {"params": h.params, "data": h.data, "headers": h.headers, "timeout": h.timeout}
        kwargs["json"] = h.json_ if h.json_ is not None else (None if h.data is not None else {"exports": results})
        try:
            r = requests.request(h.method.upper(), h.url, **kwargs)
        except requests.RequestException as err:
            raise NetworkError(f"webhook {h.url}: {err}") from None
        out.append({"url": h.url, "status": r.status_code})
    return out
