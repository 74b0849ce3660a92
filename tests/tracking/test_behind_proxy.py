"""Behind a TLS proxy (NURTURE_PROXY_HOPS=1) the visitor's address comes from X-Forwarded-For; without the
setting the header is ignored, so nobody can claim someone else's address."""
from __future__ import annotations

import pytest

from app.config import ConfigError, load_config
from tests.loop_steps import parts, tracking_paths

PROXY = {"REMOTE_ADDR": "10.0.0.2"}  # every request reaches Nurture from the proxy


@pytest.fixture
def config(config):
    return config.with_overrides(proxy_hops=1)


def test_opens_are_classified_by_the_visitors_address_not_the_proxys(sent, client, events):
    """An open fetched from Apple's 17.0.0.0/8 through the proxy is Apple Mail Privacy Protection, kept with
    that address; a reader elsewhere is a person."""
    pixel, _ = tracking_paths(parts(sent[0])[0])
    iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
    client.get(pixel, headers={"User-Agent": iphone, "X-Forwarded-For": "17.58.101.2"}, environ_base=PROXY)
    client.get(pixel, headers={"User-Agent": iphone, "X-Forwarded-For": "81.2.69.142"}, environ_base=PROXY)
    apple, reader = events("email_open")
    assert (apple.ip, apple.is_machine, apple.machine_reason) == ("17.58.101.2", True, "Apple Mail Privacy Protection")
    assert (reader.ip, reader.is_machine) == ("81.2.69.142", False)


def test_the_form_limit_counts_each_visitor_not_the_proxy(client, session):
    """Ten submissions a minute per visitor: one busy visitor is refused, the next one is not."""
    def submit(i, address):
        return client.post("/f/newsletter.json", json={"email": f"p{i}@example.org"}, environ_base=PROXY,
                           headers={"X-Forwarded-For": address}).status_code
    assert [submit(i, "198.51.100.7") for i in range(11)] == [201] * 10 + [429]
    assert submit(11, "198.51.100.8") == 201


def test_the_proxy_hops_setting_is_checked():
    """A typo in NURTURE_PROXY_HOPS stops start-up with the setting named."""
    assert load_config({"NURTURE_PROXY_HOPS": "2"}).proxy_hops == 2
    with pytest.raises(ConfigError, match="NURTURE_PROXY_HOPS"):
        load_config({"NURTURE_PROXY_HOPS": "one"})
