"""The allow-list decides where a training key may go; it must refuse every lookalike."""

from __future__ import annotations

import pytest

from dsr.customvision import EndpointAllowList
from dsr.errors import EndpointNotAllowedError

ALLOW = EndpointAllowList(
    suffixes=(".cognitiveservices.azure.com", ".api.cognitive.microsoft.com"),
    extra_origins=("http://127.0.0.1:7080",),
)


@pytest.mark.parametrize(
    ("endpoint", "origin"),
    [
        ("https://myres.cognitiveservices.azure.com", "https://myres.cognitiveservices.azure.com"),
        ("https://myres.cognitiveservices.azure.com/", "https://myres.cognitiveservices.azure.com"),
        ("https://WestUS.API.Cognitive.Microsoft.com", "https://westus.api.cognitive.microsoft.com"),
        ("https://myres.cognitiveservices.azure.com:443", "https://myres.cognitiveservices.azure.com"),
        ("http://127.0.0.1:7080", "http://127.0.0.1:7080"),
        ("http://127.0.0.1:7080/", "http://127.0.0.1:7080"),
    ],
)
def test_allowed_endpoints_normalize_to_origin(endpoint, origin):
    assert ALLOW.check(endpoint) == origin


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://myres.cognitiveservices.azure.com",
        "https://evil.com",
        "https://evil.com?x=.cognitiveservices.azure.com",
        "https://evil.com#.cognitiveservices.azure.com",
        "https://evil.com/.cognitiveservices.azure.com",
        "https://myres.cognitiveservices.azure.com@evil.com",
        "https://user:pw@myres.cognitiveservices.azure.com",
        "https://evil.com\\@myres.cognitiveservices.azure.com",
        "https://cognitiveservices.azure.com",
        "https://evilcognitiveservices.azure.com",
        "https://myres.cognitiveservices.azure.com.evil.com",
        "https://myres.cognitiveservices.azure.com:8443",
        "https://myres.cognitiveservices.azure.com/customvision",
        "https://my_res.cognitiveservices.azure.com",
        "https://myres.cognitiveservices.azure.com;x",
        "https://myres.cognitiveservices.azure.com\n",
        "ftp://myres.cognitiveservices.azure.com",
        "//myres.cognitiveservices.azure.com",
        "http://127.0.0.1:7081",
        "http://127.0.0.1",
        "https://127.0.0.1:7080",
        "http://localhost:7080",
        "",
    ],
)
def test_lookalike_endpoints_are_refused(endpoint):
    with pytest.raises(EndpointNotAllowedError):
        ALLOW.check(endpoint)


def test_refusal_never_echoes_userinfo():
    with pytest.raises(EndpointNotAllowedError) as info:
        ALLOW.check("https://user:hunter2@myres.cognitiveservices.azure.com")
    assert "hunter2" not in str(info.value)
