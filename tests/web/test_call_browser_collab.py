"""End to end in headless Chromium: chat, raised hands, the whiteboard and the lobby as people
use them from the call page's own controls (a real daphne, the real worker, two or three
browser contexts)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.web.livesite import PASSWORD, SEED_USERS, LiveSite, open_call, peer_id, sign_in

SEED = SEED_USERS + """cy = user("cy", "Cy", "Young")
dan = user("dan", "Dan", "Brown")
meeting = services.meeting_create(host=ada, title={title!r}, access={access!r})
if {invite!r}:
    for name in ("bob", "cy"):
        services.participant_invite(meeting=meeting, actor=ada, username=name)
print(json.dumps({{"meeting": str(meeting.id), "dan": dan.pk}}))
"""

MARKUP = '<img src=x onerror="window.__pwned=1"><b>bold</b> & <script>window.__pwned=2</script>'


def seed(site: LiveSite, title: str, *, access: str = "invited", invite: bool = True) -> Any:
    """Users ada (host), bob, cy (invited when `invite`), dan (never invited); a meeting."""
    return site.seed(SEED.format(password=PASSWORD, title=title, access=access, invite=invite))


async def send_chat(page: Any, text: str, to: str = "") -> None:
    """Type `text` in the chat panel (opening it if needed) and press Enter."""
    if await page.locator("#chat-section").is_hidden():
        await page.click('[data-action="chat"]')
    await page.select_option("#chat-to", to)
    await page.fill("#chat-input", text)
    await page.press("#chat-input", "Enter")


async def draw_rect(page: Any) -> list[str]:
    """Open the whiteboard, drag a rectangle with the mouse; the page's element ids."""
    await page.click('[data-action="whiteboard"]')
    await page.click('[data-board-tool="rect"]')
    box = await page.locator("[data-board-canvas]").bounding_box()
    assert box is not None
    await page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.2)
    await page.mouse.down()
    await page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.6,
                          steps=5)
    await page.mouse.up()
    await page.wait_for_function(
        "(n) => window.conference.collab().board.length === n "
        "&& document.querySelector('[data-board-canvas]').dataset.count === String(n)", arg=1)
    return list((await page.evaluate("window.conference.collab()"))["board"])


async def draw_by_keyboard(page: Any, tool: str, to_start: list[str],
                           to_end: list[str]) -> dict[str, Any]:
    """With the keyboard only: pick ``tool``, then on the canvas press the keys ``to_start``
    (key names), Enter, the keys ``to_end`` and Enter; the shape added (as the page's model
    holds it)."""
    before = set((await page.evaluate("window.conference.collab()"))["board"])
    await page.focus(f'[data-board-tool="{tool}"]')
    await page.keyboard.press("Enter")
    await page.focus("[data-board-canvas]")
    for key in [*to_start, "Enter", *to_end, "Enter"]:
        await page.keyboard.press(key)
    await page.wait_for_function(
        "(n) => window.conference.collab().board.length === n", arg=len(before) + 1)
    shapes = (await page.evaluate("window.conference.collab()"))["shapes"]
    return next(shape for shape in shapes if shape["id"] not in before)


async def chat_texts(page: Any) -> list[str]:
    """The chat texts the page shows, in order."""
    return list((await page.evaluate("window.conference.collab()"))["chat"])


async def test_chat_hands_and_whiteboard_between_browsers(live_site: LiveSite,
                                                          chromium: Any) -> None:
    """Ada and Bob chat both ways (a link made clickable, a markup payload shown as text, a
    private message), Bob raises his hand and Ada sees it and lowers it, Ada draws on the
    whiteboard and Bob's board gets it; Cy joins late and gets the board and the public chat,
    not the private message."""
    meeting_id = seed(live_site, "Collaboration")["meeting"]
    ada = await open_call(chromium, live_site, "ada", meeting_id, camera=False)
    bob = await open_call(chromium, live_site, "bob", meeting_id, camera=False)
    ada_peer, bob_peer = await peer_id(ada), await peer_id(bob)

    # Chat, Ada to everyone: Bob's chat button counts it unread until he opens the panel.
    await send_chat(ada, "Hello Bob, see https://example.com/notes")
    await bob.wait_for_function(
        "document.querySelector('[data-badge=chat]').textContent === '1'")
    label = await bob.get_attribute('[data-action="chat"]', "aria-label")
    assert label == "Chat, 1 unread"
    await bob.click('[data-action="chat"]')
    await bob.wait_for_function("document.querySelector('[data-badge=chat]').hidden")
    link = bob.locator('.chat__text a[href="https://example.com/notes"]')
    assert await link.count() == 1 and await link.get_attribute("rel") == \
        "noopener noreferrer nofollow"

    # Bob to everyone: markup arrives as text, nothing of it runs or renders as elements.
    await send_chat(bob, MARKUP)
    await ada.wait_for_function(
        "window.conference.collab().chat.length === 2", timeout=15_000)
    assert (await chat_texts(ada))[1] == MARKUP
    assert await ada.locator(".chat__text img, .chat__text b, .chat__text script").count() == 0
    assert await ada.evaluate("window.__pwned === undefined")

    # Bob privately to Ada.
    await send_chat(bob, "just between us", to=ada_peer)
    await ada.wait_for_function("window.conference.collab().chat.length === 3")
    private = ada.locator(".chat__item--private .chat__text")
    assert await private.inner_text() == "just between us"

    # Bob raises his hand: Ada sees the mark on his tile and the queue; she lowers it.
    await bob.click('[data-action="raise-hand"]')
    await ada.wait_for_function(
        f"document.querySelector('.tile[data-peer-id=\"{bob_peer}\"] .tile__hand')")
    await ada.click('[data-action="hands"]')
    queue = ada.locator(f'[data-hand-peer="{bob_peer}"]')
    assert "Bob Chen" in await queue.inner_text()
    assert await bob.get_attribute('[data-action="raise-hand"]', "aria-pressed") == "true"
    await queue.locator("button").click()
    await bob.wait_for_function(
        "document.querySelector('[data-action=\"raise-hand\"]')"
        ".getAttribute('aria-pressed') === 'false'")
    await ada.wait_for_function(
        f"!document.querySelector('.tile[data-peer-id=\"{bob_peer}\"] .tile__hand')")

    # Ada draws a rectangle with the mouse; Bob's board gets it.
    drawn = await draw_rect(ada)
    same_board = ("(ids) => JSON.stringify(window.conference.collab().board) === "
                  "JSON.stringify(ids)")
    await bob.wait_for_function(same_board, arg=drawn)
    # Bob draws one with the keyboard alone (the cursor starts mid-board, 1600 x 900; Shift
    # steps 100), hears it said, and cancels a second one with Escape (the board stays open).
    await bob.click('[data-action="whiteboard"]')
    keyed = await draw_by_keyboard(bob, "rect", ["Shift+ArrowLeft"] * 2 + ["Shift+ArrowUp"],
                                   ["Shift+ArrowRight"] * 3 + ["Shift+ArrowDown"] * 3)
    assert (keyed["type"], keyed["x"], keyed["y"], keyed["w"], keyed["h"]) == \
        ("rect", 600, 350, 300, 300)
    status = bob.locator("[data-board-status]")
    assert await status.inner_text() == "Rectangle drawn."
    assert await bob.get_attribute("[data-board-canvas]", "aria-describedby") == "board-keys"
    await bob.keyboard.press("Enter")
    await bob.keyboard.press("ArrowDown")
    assert await status.inner_text() == "Drawing to 900, 670"
    await bob.keyboard.press("Escape")
    assert await status.inner_text() == "Drawing cancelled."
    assert await bob.locator("#board").is_visible()
    drawn = [*drawn, keyed["id"]]
    await ada.wait_for_function(same_board, arg=drawn)
    # Cy joins late and gets the whole board.
    cy = await open_call(chromium, live_site, "cy", meeting_id, camera=False)
    await cy.wait_for_function(same_board, arg=drawn)
    await cy.wait_for_function("window.conference.collab().chat.length === 2")
    assert await chat_texts(cy) == ["Hello Bob, see https://example.com/notes", MARKUP]
    assert await bob.get_attribute("[data-board-canvas]", "data-count") == "2"


async def test_the_host_admits_a_visitor_from_the_lobby(live_site: LiveSite,
                                                        chromium: Any) -> None:
    """Dan, not invited to a "lobby" meeting, presses Join and waits; Ada sees him in her
    lobby panel and admits him; Dan's page enters the call and Ada sees his tile."""
    ids = seed(live_site, "Walk-in clinic", access="lobby", invite=False)
    meeting_id = ids["meeting"]
    ada = await open_call(chromium, live_site, "ada", meeting_id, camera=False)

    context = await chromium.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(45_000)
    dan = await context.new_page()
    await sign_in(dan, live_site, "dan")
    await dan.goto(f"{live_site.url}/meetings/{meeting_id}/")
    await dan.wait_for_function("!document.querySelector('[data-action=join]').disabled")
    await dan.uncheck("#prejoin-camera")
    await dan.click('[data-action="join"]')
    await dan.wait_for_function("window.conference.state().view === 'lobby'")
    assert await dan.locator("#lobby-wait").is_visible()

    await ada.wait_for_function(
        "document.querySelector('[data-badge=lobby]').textContent === '1'")
    await ada.click('[data-action="lobby"]')
    await ada.click(f'[data-lobby-admit="{ids["dan"]}"]')
    await dan.wait_for_function("window.conference.state().call === 'joined'")
    dan_peer = await peer_id(dan)
    await ada.wait_for_function(
        f"document.querySelector('.tile[data-peer-id=\"{dan_peer}\"]')")
    await ada.wait_for_function("document.querySelector('[data-badge=lobby]').hidden")


async def test_chat_and_board_survive_a_server_restart(live_site: LiveSite,
                                                       chromium: Any) -> None:
    """Ada chats and draws; daphne stops and starts again (same database); Bob, joining
    after the restart, gets the message and the drawing."""
    meeting_id = seed(live_site, "Kept")["meeting"]
    ada = await open_call(chromium, live_site, "ada", meeting_id, camera=False)
    await send_chat(ada, "before the restart")
    await ada.wait_for_function("window.conference.collab().chat.length === 1")
    drawn = await draw_rect(ada)
    await ada.context.close()
    assert await asyncio.to_thread(live_site.stop) == 0, live_site.log()
    await asyncio.to_thread(live_site.start)
    bob = await open_call(chromium, live_site, "bob", meeting_id, camera=False)
    await bob.wait_for_function(
        "(ids) => JSON.stringify(window.conference.collab().board) === JSON.stringify(ids)",
        arg=drawn)
    await bob.wait_for_function("window.conference.collab().chat.length === 1")
    assert await chat_texts(bob) == ["before the restart"]
