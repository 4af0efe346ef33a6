"""The headers every dashboard answer carries: a strict Content-Security-Policy and friends."""

from __future__ import annotations

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",  # every script is a file under /ui/static: nothing inline
        "style-src 'self'",  # one stylesheet per page; scripts style through the CSSOM only
        "img-src 'self' data:",
        "connect-src 'self'",  # the event stream and the JSON API, same origin
        "font-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    )
)

UI_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
