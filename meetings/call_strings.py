"""The call page's browser strings, translated on the server and handed to the JavaScript.

The bundle holds no text of its own: the page embeds this dictionary (`json_script`) in the
request's language, so the browser code and the templates share one set of translations.
`{name}`-style placeholders are filled in by the browser.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

__all__ = ["call_strings"]


def call_strings() -> dict[str, str]:
    """Every string the call page's JavaScript may show, in the active language."""
    return {
        # Connection and call states, read out by the status region.
        "state.idle": _("Not connected"),
        "state.connecting": _("Connecting…"),
        "state.joining": _("Joining the call…"),
        "state.joined": _("Connected"),
        "state.reconnecting": _("Connection lost. Reconnecting…"),
        "state.reconnectingAttempt": _("Connection lost. Reconnecting (attempt {attempt})…"),
        "state.left": _("You left the call."),
        "state.failed": _("Could not join the call."),
        "state.mediaConnecting": _("Connecting media…"),
        "state.mediaFailed": _("Media connection failed. Retrying…"),
        "state.serverRestarting": _("The server is restarting. Reconnecting…"),
        # Refusals (WebSocket close codes).
        "refused.4401": _("Your session has expired. Sign in again to join."),
        "refused.4403": _("You are not allowed to join this meeting."),
        "refused.4404": _("This meeting does not exist."),
        "refused.4409": _("The meeting is full."),
        "refused.4410": _("The meeting has ended."),
        "refused.4429": _(
            "The connection was closed because it sent too many messages. You can rejoin."
        ),
        "refused.4430": _(
            "You have too many meeting windows or devices open. Close one, then rejoin."
        ),
        "refused.other": _("The server refused the connection."),
        "meetingEnded": _("The host ended the meeting."),
        "removed": _("The host removed you from the meeting."),
        # Devices.
        "media.denied.audio": _(
            "Microphone access was denied. Allow it in your browser's site settings, "
            "or join without a microphone."
        ),
        "media.denied.video": _(
            "Camera access was denied. Allow it in your browser's site settings, "
            "or join without a camera."
        ),
        "media.not-found.audio": _("No microphone was found."),
        "media.not-found.video": _("No camera was found. You can join with audio only."),
        "media.in-use.audio": _("The microphone is in use by another application."),
        "media.in-use.video": _("The camera is in use by another application."),
        "media.insecure.audio": _(
            "This page is not served over HTTPS, so the browser does not allow the microphone."
        ),
        "media.insecure.video": _(
            "This page is not served over HTTPS, so the browser does not allow the camera."
        ),
        "media.other.audio": _("The microphone could not be opened."),
        "media.other.video": _("The camera could not be opened."),
        "media.screenDenied": _("Screen sharing was cancelled or not allowed."),
        "media.screenUnsupported": _("This browser cannot share the screen."),
        "media.listenOnly": _("You will join without microphone or camera, and can still listen."),
        "device.default": _("Default"),
        "device.none": _("None found"),
        "device.unnamed": _("Device {n}"),
        # Controls (labels change with state).
        "control.mute": _("Mute"),
        "control.unmute": _("Unmute"),
        "control.cameraOff": _("Stop camera"),
        "control.cameraOn": _("Start camera"),
        "control.shareScreen": _("Share screen"),
        "control.stopShare": _("Stop sharing"),
        "control.leave": _("Leave"),
        "control.hostMute": _("Mute {name}"),
        "control.hostRemove": _("Remove {name} from the call"),
        "control.confirmRemove": _("Remove {name} from the call?"),
        # Tiles.
        "tile.you": _("{name} (you)"),
        "tile.screenOf": _("{name}'s screen"),
        "tile.yourScreen": _("Your screen"),
        "tile.muted": _("Microphone off"),
        "tile.cameraOff": _("Camera off"),
        "tile.speaking": _("Speaking"),
        "tile.enlarge": _("Enlarge {name}"),
        "tile.shrink": _("Back to the grid"),
        "peers.count": _("{count} in the call"),
        "peer.joined": _("{name} joined."),
        "peer.left": _("{name} left."),
        "peer.sharing": _("{name} is sharing their screen."),
        "peer.anonymous": _("Guest"),
        "error.generic": _("Something went wrong: {message}"),
        "mutedByHost": _("The host muted your microphone."),
        # Recording.
        "recording.start": _("Record"),
        "recording.stop": _("Stop recording"),
        "recording.started": _("This call is being recorded."),
        "recording.startedBy": _("{name} started recording this call."),
        "recording.stopped": _(
            "Recording stopped. It will be on the meeting page once it is processed."
        ),
        "recording.failed": _("The recording could not be started or stopped: {message}"),
        # Chat, hands, reactions, whiteboard, lobby (static/src/lib/collab.js and its parts).
        "control.chat": _("Chat"),
        "control.chatUnread": _("Chat, {count} unread"),
        "control.raiseHand": _("Raise hand"),
        "control.lowerHand": _("Lower hand"),
        "control.react": _("React"),
        "control.hands": _("Hands"),
        "control.handsCount": _("Hands, {count} raised"),
        "control.whiteboard": _("Whiteboard"),
        "control.lobby": _("Lobby"),
        "control.lobbyCount": _("Lobby, {count} waiting"),
        "panel.label": _("Side panel"),
        "panel.chat": _("Chat"),
        "panel.hands": _("Raised hands"),
        "panel.lobby": _("Lobby"),
        "panel.close": _("Close"),
        "panel.closeNamed": _("Close {name}"),
        "chat.log": _("Chat messages"),
        "chat.empty": _("No messages yet."),
        "chat.to": _("To"),
        "chat.everyone": _("Everyone"),
        "chat.message": _("Message"),
        "chat.hint": _("Enter sends, Shift+Enter starts a new line."),
        "chat.send": _("Send"),
        "chat.you": _("You"),
        "chat.privateTo": _("privately to {name}"),
        "chat.privateFrom": _("privately to you"),
        "chat.delete": _("Delete the message from {name}"),
        "chat.deleteShort": _("Delete"),
        "chat.deleted": _("A message was deleted by the host."),
        "chat.newFrom": _("New message from {name}"),
        "chat.failed": _("The message was not sent: {message}"),
        "hands.queue": _("Raised hands, first raised first"),
        "hands.none": _("No hands raised."),
        "hands.raised": _("{name} raised their hand."),
        "hands.lowered": _("{name} lowered their hand."),
        "hands.loweredByHost": _("The host lowered your hand."),
        "hands.lower": _("Lower"),
        "hands.lowerNamed": _("Lower {name}'s hand"),
        "hands.mark": _("Hand raised"),
        "reaction.send": _("React with {emoji}"),
        "reaction.shown": _("{name} reacted {emoji}"),
        "board.label": _("Whiteboard"),
        "board.canvas": _("Shared whiteboard"),
        "board.tools": _("Whiteboard tools"),
        "board.tool.pen": _("Pen"),
        "board.tool.line": _("Line"),
        "board.tool.arrow": _("Arrow"),
        "board.tool.rect": _("Rectangle"),
        "board.tool.ellipse": _("Ellipse"),
        "board.tool.text": _("Text"),
        "board.tool.eraser": _("Eraser"),
        "board.tool.pointer": _("Pointer"),
        "board.color": _("Colour"),
        "board.width": _("Width"),
        "board.textPlaceholder": _("Text to place"),
        "board.addText": _("Add text"),
        "board.undo": _("Undo"),
        "board.clear": _("Clear"),
        "board.confirmClear": _("Clear the whiteboard for everyone?"),
        "board.close": _("Close whiteboard"),
        "board.count": _("The whiteboard holds {count} items."),
        "board.failed": _("The whiteboard change was refused: {message}"),
        "board.keys": _("Arrow keys move the drawing cursor (with Shift, farther). Enter or "
                        "Space starts a shape at the cursor and finishes it where the cursor "
                        "is; with the eraser it erases what is under the cursor. Escape "
                        "cancels a shape."),
        "board.keyAt": _("Cursor at {x}, {y}"),
        "board.keyTo": _("Drawing to {x}, {y}"),
        "board.keyStarted": _("{shape} started at {x}, {y}. Move with the arrow keys, then "
                              "press Enter to finish."),
        "board.keyDrawn": _("{shape} drawn."),
        "board.keyCancelled": _("Drawing cancelled."),
        "board.keyErased": _("{shape} erased."),
        "board.keyNothing": _("Nothing to erase under the cursor."),
        "lobby.waiting": _("You are in the lobby. The host will let you in soon."),
        "lobby.admitted": _("The host let you in."),
        "lobby.denied": _("The host did not let you in to this meeting."),
        "lobby.knock": _("{name} is waiting in the lobby."),
        "lobby.none": _("Nobody is waiting."),
        "lobby.admit": _("Admit"),
        "lobby.deny": _("Deny"),
        "lobby.admitNamed": _("Admit {name}"),
        "lobby.denyNamed": _("Deny {name}"),
    }
