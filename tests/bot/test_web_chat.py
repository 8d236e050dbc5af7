"""Adding a web page from chat: Discord `/ingest url:` and Slack `/citebot-ingest URL`, end to end
(real discord.py / slack-bolt against the local fakes, a real website on 127.0.0.1)."""
from __future__ import annotations

import asyncio
import urllib.parse
from typing import Any

import pytest

from bot.discord.admin import ADMIN_ONLY, INGEST_ONE_OF
from bot.slack.admin import INGEST_COMMAND, SLACK_ADMIN_ONLY
from index.ingest.web import Fetcher, FetchPolicy
from index.sources import WebIngester
from tests.bot.discord.test_discord import ALICE, BOB, EPHEMERAL, ask, flags, interact, world  # noqa: F401 (fixture)
from tests.bot.slack.test_slack import HttpSlackApp, answered, command_payload
from tests.fake_discord import MANAGE_GUILD
from tests.mock_slack import MockSlack
from tests.web_server import Site, article_html

pytestmark = pytest.mark.timeout(120)

ALLOW = FetchPolicy(allow_private=True, per_host_delay=0.0)
STRICT = FetchPolicy(allow_private=False, per_host_delay=0.0)
QUESTION = "Who repaired the Wrenfield clock tower?"


@pytest.fixture
def site():
    s = Site().start()
    s.page("/clock", article_html("Wrenfield clock tower repaired", "2024-06-01",
                                  ["The Wrenfield clock tower was repaired by the clockmaker Odile Fenwright.",
                                   "Its bells rang again on the first of June."]))
    yield s
    s.stop()


def use(service: Any, policy: FetchPolicy) -> None:
    service.web = WebIngester(service.engine, Fetcher(policy))


def test_discord_ingest_url_is_admin_only_and_scoped_to_the_server(world, site: Site) -> None:  # noqa: F811
    url = site.base + "/clock"
    use(world.service, STRICT)
    admin = dict(permissions=MANAGE_GUILD)
    # A member without Manage Server is refused before anything is fetched.
    _, cb, _ = world.run(interact(world, world.fake.slash(world.bot, world.b, ALICE, "ingest", {"url": url}),
                                  followup=False))
    assert cb.payload["content"] == ADMIN_ONLY and not site.log
    # An admin asking for a private address gets the reason, and the server reads nothing.
    _, _, fu = world.run(interact(world, world.fake.slash(world.bot, world.b, BOB, "ingest", {"url": url}, **admin)))
    assert "private or local network" in fu.payload["content"] and flags(fu) == EPHEMERAL and not site.log
    # Neither or both of file/url: a clear message.
    _, cb, _ = world.run(interact(world, world.fake.slash(world.bot, world.b, BOB, "ingest", {}, **admin), followup=False))
    assert cb.payload["content"] == INGEST_ONE_OF

    use(world.service, ALLOW)  # as with CITEBOT_ALLOW_PRIVATE_URLS=1
    _, _, fu = world.run(interact(world, world.fake.slash(world.bot, world.b, BOB, "ingest", {"url": url}, **admin),
                                  timeout=30))
    assert fu.payload["content"].startswith("Added <" + url + ">") and flags(fu) == EPHEMERAL
    _, _, in_b = ask(world, QUESTION, guild=world.b, user=BOB)
    assert "Odile Fenwright" in in_b.payload["embeds"][0]["description"]
    assert url in in_b.payload["embeds"][0]["description"]
    _, _, in_a = ask(world, QUESTION, guild=world.a)
    assert "Fenwright" not in str(in_a.payload.get("content")) + str(in_a.payload.get("embeds"))


def test_slack_citebot_ingest_is_admin_only(service, site: Site) -> None:
    url = site.base + "/clock"
    use(service, ALLOW)

    async def scenario() -> None:
        async with MockSlack() as slack, HttpSlackApp(service, slack) as app:
            slack.admins["UADMIN"] = True  # users.info: U1 is a plain member, UADMIN a workspace admin
            async def command(text: str, key: str, user: str) -> tuple[int, str, float]:
                payload = dict(command_payload(text, slack.response_url(key), user=user), command=INGEST_COMMAND)
                return await app.post(urllib.parse.urlencode(payload), "application/x-www-form-urlencoded")

            status, body, _ = await command(f"<{url}|clock>", "m1", "U1")
            assert status == 200
            refused = await answered(slack, "response/m1")
            assert SLACK_ADMIN_ONLY in refused.text and refused.body["response_type"] == "ephemeral"
            assert not site.log

            await command(f"<{url}|clock>", "a1", "UADMIN")
            done = await answered(slack, "response/a1")
            assert f"Added {url}" in done.text

            await app.command(QUESTION, key="q1")
            answer = await answered(slack, "response/q1")
            assert "Odile Fenwright" in answer.text and url in answer.text

            status, body, _ = await command("", "e1", "UADMIN")
            assert status == 200 and "Give the address of a web page" in body
    asyncio.run(scenario())
