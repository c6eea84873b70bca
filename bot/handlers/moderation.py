"""Moderators' commands: add, edit, retract, history, undo, import/export, review, audit.

Each handler checks rights first (on every command, button press and step of /add, against the
database, so a removed moderator loses rights at once), then parses, asks knowledge/moderation,
renders and replies. Every admin action is written to the audit trail, refused ones included.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session
from telegram import Bot, BotCommand, BotCommandScopeChat, Document, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

import knowledge.write.history as history_mod
from bot.commands.curation import (
    MAX_CHAT_IMPORT_BYTES,
    UsageError,
    import_change,
    parse_add_actor,
    parse_add_event,
    parse_add_source,
    parse_audit_count,
    parse_draft_id,
    parse_edit,
    parse_entry_id,
    parse_reject,
    parse_retract,
    parse_undo,
)
from bot.commands.guided import GUIDED_STEPS, check_step, guided_change
from bot.context import Deps, deps_of
from bot.handlers.common import ArgumentTooLong, command_text, send
from bot.presenters import admin as render_admin
from bot.presenters.html import Reply, esc
from knowledge.language.names import clean_input
from knowledge.models import EntryKind
from knowledge.storage.database import session_scope
from knowledge.write import roles
from knowledge.write.audit import recent_audit, record_audit
from knowledge.write.curation import Author
from knowledge.write.drafts import (
    Outcome,
    approve_draft,
    cancel_draft,
    confirm_draft,
    pending_drafts,
    reject_draft,
    submit,
)
from knowledge.write.importer import export_briefing
from knowledge.write.moderators import (
    add_moderator,
    list_moderators,
    moderator_ids,
    remove_moderator,
)
from knowledge.write.records import CurationError
from knowledge.write.requests import Change, trial
from knowledge.write.resolve import UnknownSource

log = logging.getLogger(__name__)

App = Application[Any, Any, Any, Any, Any, Any]
Context = ContextTypes.DEFAULT_TYPE
Work = Callable[[Session, Author], tuple[Reply, str]]

MAX_ADMIN_ARGUMENT = 4096  # a whole Telegram message: summaries can be long
ADD_FLOW_TIMEOUT = 600  # seconds of silence after which a guided /add is dropped
FLOW_KEY = "add_flows"  # user_data[FLOW_KEY][chat_id] -> the answers of a guided /add so far
CHOOSE_KIND, ANSWER, CONFIRM = range(3)

MODERATOR_COMMANDS = [
    BotCommand("add", "Add an entry step by step"),
    BotCommand("add_event", "DATE | TITLE | SUMMARY | SOURCE; SOURCE"),
    BotCommand("add_actor", "NAME | KIND | ROLE | ALIAS, ALIAS"),
    BotCommand("add_source", "NAME | KIND | URL"),
    BotCommand("edit", "ID | FIELD | VALUE"),
    BotCommand("retract", "ID | REASON"),
    BotCommand("history", "Every revision of an entry: /history 12"),
    BotCommand("undo", "Revert an entry's last revision: /undo 12"),
    BotCommand("export", "The knowledge base as a YAML file"),
    BotCommand("import", "Send a YAML file with this caption"),
    BotCommand("pending", "Drafts waiting for review"),
    BotCommand("approve", "Approve a draft: /approve 3"),
    BotCommand("reject", "Reject a draft: /reject 3 | reason"),
    BotCommand("digest", "/digest preview · /digest send"),
    BotCommand("channels", "Channels receiving digests"),
    BotCommand("channel", "/channel add|remove|schedule …"),
    BotCommand("mods", "Who moderates"),
    BotCommand("modhelp", "Moderator commands in full"),
]
IMPORT_HOW = (
    "Send a YAML file (as exported by /export) with the caption <code>/import</code>, "
    "or reply <code>/import</code> to a message that has one."
)
OWNER_COMMANDS = [
    BotCommand("mod", "/mod add USER_ID · /mod remove USER_ID"),
    BotCommand("audit", "The last admin actions: /audit 50"),
]


# --- rights, audit and running a change -------------------------------------------------------


def _command(update: Update) -> str:
    """What the user did, for the audit trail: the message text, or the button's data."""
    if update.callback_query is not None:
        return f"button {update.callback_query.data or ''}"
    message = update.effective_message
    return (message.text or message.caption or "") if message else ""


def _audit(deps: Deps, user_id: int, command: str, outcome: str) -> None:
    # Its own transaction: the record stays even when the action itself was rolled back.
    with session_scope(deps.engine) as session:
        record_audit(session=session, user_id=user_id, command=command, outcome=outcome)


async def moderator_gate(
    update: Update, context: Context, *, owners_only: bool = False
) -> Author | None:
    """The author of an admin action, or None after refusing (and recording the refusal)."""
    user = update.effective_user
    if user is None:  # channel posts: nobody to refuse, nothing to record
        return None
    deps = deps_of(context)
    owners = deps.settings.admin_ids
    with session_scope(deps.engine) as session:
        if owners_only:
            allowed = roles.is_owner(user.id, owners)
        else:
            allowed = roles.is_moderator(session=session, user_id=user.id, owners=owners)
        if not allowed:
            record_audit(
                session=session,
                user_id=user.id,
                command=_command(update),
                outcome=f"refused: not {'an owner' if owners_only else 'a moderator'}",
            )
    if allowed:
        return Author(user.id, user.full_name)
    log.warning(
        "refused %r from user %s (not %s)",
        _command(update)[:60],
        user.id,
        "an owner" if owners_only else "a moderator",
    )
    reply = render_admin.refusal(owners_only=owners_only)
    if update.callback_query is not None:
        await update.callback_query.answer(
            render_admin.OWNER_REFUSAL if owners_only else render_admin.REFUSAL
        )
    else:
        await send(update, context, reply)
    return None


def _perform(deps: Deps, update: Update, author: Author, work: Work) -> Reply:
    """Run one unit of work in its own transaction; a CurationError rolls it back and becomes
    a polite answer. The audit record is written whatever happens."""
    outcome = "error"
    try:
        try:
            with session_scope(deps.engine) as session:
                reply, outcome = work(session, author)
        except CurationError as exc:
            reply, outcome = render_admin.problem(exc), f"invalid: {exc}"
    finally:
        assert author.id is not None
        _audit(deps, author.id, _command(update), outcome)
    return reply


def _args(update: Update) -> str:
    return command_text(update, MAX_ADMIN_ARGUMENT)


def _summary(result: Outcome[Reply]) -> str:
    """The audit line for a submitted change."""
    applied = result.applied
    what = applied.change.describe()
    if result.status == "applied":
        where = f" #{applied.entry_id}" if applied.entry_id else ""
        revision = f" r{applied.revision_id}" if applied.revision_id else ""
        summary = f" ({applied.summary.line()})" if applied.summary else ""
        return f"ok{where}{revision}: {what}{summary}"
    if result.status == "unchanged":
        return f"unchanged #{applied.entry_id}"
    assert result.draft is not None
    if result.status == "confirm":
        return f"asked to confirm (draft {result.draft.id}, same as #{applied.duplicate_of})"
    return f"draft {result.draft.id}: {what}"


def _submit_work(
    change_of: Callable[[Session], Change], review: bool, *, confirmed: bool = False
) -> Work:
    def work(session: Session, author: Author) -> tuple[Reply, str]:
        change = change_of(session)
        result = submit(
            session,
            change,
            author=author,
            review=review,
            confirmed=confirmed,
            preview=render_admin.entry_card,
        )
        return render_admin.outcome(result), _summary(result)

    return work


async def _curate(
    update: Update, context: Context, parse: Callable[[Session, str], Change]
) -> None:
    """The one-line commands: parse, submit (apply or draft), confirm with a preview."""
    author = await moderator_gate(update, context)
    if author is None:
        return
    deps = deps_of(context)
    try:
        text = _args(update)
    except ArgumentTooLong:
        await send(update, context, Reply(["That message is too long to read."]))
        return
    work = _submit_work(lambda session: parse(session, text), deps.settings.review_required)
    await send(update, context, _perform(deps, update, author, work))


async def add_event(update: Update, context: Context) -> None:
    await _curate(update, context, parse_add_event)


async def add_actor(update: Update, context: Context) -> None:
    await _curate(update, context, parse_add_actor)


async def add_source(update: Update, context: Context) -> None:
    await _curate(update, context, parse_add_source)


async def edit(update: Update, context: Context) -> None:
    await _curate(update, context, parse_edit)


async def retract(update: Update, context: Context) -> None:
    await _curate(update, context, parse_retract)


async def undo(update: Update, context: Context) -> None:
    await _curate(update, context, parse_undo)


async def _simple(
    update: Update,
    context: Context,
    work: Work,
    *,
    owners_only: bool = False,
) -> Reply | None:
    author = await moderator_gate(update, context, owners_only=owners_only)
    if author is None:
        return None
    reply = _perform(deps_of(context), update, author, work)
    await send(update, context, reply)
    return reply


# --- history ----------------------------------------------------------------------------------


def _history_work(entry_id: int, offset: int) -> Work:
    def work(session: Session, _author: Author) -> tuple[Reply, str]:
        page = history_mod.history(session=session, entry_id=entry_id, offset=offset)
        return render_admin.history(page), f"shown #{entry_id} from {offset}"

    return work


async def history(update: Update, context: Context) -> None:
    text = _safe_args(update)

    def work(session: Session, author: Author) -> tuple[Reply, str]:
        entry_id = parse_entry_id(text, "history")
        return _history_work(entry_id, 0)(session, author)

    await _simple(update, context, work)


async def history_button(update: Update, context: Context) -> None:
    """◀ ▶ under a history: `mh:<entry id>:<offset>`."""
    query = update.callback_query
    assert query is not None and query.data is not None
    author = await moderator_gate(update, context)
    if author is None:
        return
    _, raw_id, raw_offset = query.data.split(":")
    reply = _perform(deps_of(context), update, author, _history_work(int(raw_id), int(raw_offset)))
    await query.answer()
    if len(reply.parts) == 1 and query.message is not None:
        try:
            await query.edit_message_text(reply.parts[0], reply_markup=reply.keyboard)
            return
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return
    await send(update, context, reply)


def _safe_args(update: Update) -> str:
    try:
        return _args(update)
    except ArgumentTooLong:
        return ""


# --- duplicate confirmations ------------------------------------------------------------------


async def confirm_button(update: Update, context: Context) -> None:
    """`mc:y:<draft>` saves a suspected duplicate anyway; `mc:n:<draft>` drops it."""
    query = update.callback_query
    assert query is not None and query.data is not None
    author = await moderator_gate(update, context)
    if author is None:
        return
    _, answer, raw_id = query.data.split(":")
    draft_id = int(raw_id)
    review = deps_of(context).settings.review_required
    answered: list[bool] = []

    def work(session: Session, author: Author) -> tuple[Reply, str]:
        if answer == "n":
            cancel_draft(session, draft_id, user=author)
            answered.append(True)
            return Reply(["Cancelled. Nothing was saved."]), f"cancelled draft {draft_id}"
        result = confirm_draft(
            session, draft_id, user=author, review=review, preview=render_admin.entry_card
        )
        answered.append(True)
        return render_admin.outcome(result), _summary(result)

    reply = _perform(deps_of(context), update, author, work)
    await query.answer()
    if answered:  # a refused or failed answer leaves the question open for its author
        await _drop_keyboard(update)
    await send(update, context, reply)


async def _drop_keyboard(update: Update) -> None:
    """Take the buttons off a question once it is answered, so it can't be answered twice."""
    query = update.callback_query
    if query is None or query.message is None:
        return
    try:
        await query.edit_message_reply_markup(None)
    except BadRequest as exc:
        log.debug("could not remove the keyboard: %s", exc)


# --- export and import ------------------------------------------------------------------------


async def export(update: Update, context: Context) -> None:
    author = await moderator_gate(update, context)
    chat = update.effective_chat
    if author is None or chat is None:
        return
    deps = deps_of(context)
    with session_scope(deps.engine) as session:
        text = export_briefing(session)
    data = text.encode("utf-8")
    name = f"briefing-export-{datetime.now(UTC):%Y%m%d-%H%M}.yaml"
    try:
        await context.bot.send_document(
            chat.id,
            document=data,
            filename=name,
            caption=f"The knowledge base as YAML ({len(data):,} bytes). Send it back with the "
            "caption /import to load it.",
        )
    finally:
        assert author.id is not None
        _audit(deps, author.id, _command(update), f"ok: sent {name} ({len(data)} bytes)")


def _document_of(update: Update) -> Document | None:
    message = update.effective_message
    if message is None:
        return None
    if message.document is not None:
        return message.document
    replied = message.reply_to_message
    return replied.document if replied is not None else None


async def import_command(update: Update, context: Context) -> None:
    """A YAML file with the caption /import, or /import in reply to one."""
    author = await moderator_gate(update, context)
    if author is None:
        return
    deps = deps_of(context)
    document = _document_of(update)
    if document is None:
        assert author.id is not None
        _audit(deps, author.id, _command(update), "usage: no file")
        await send(update, context, Reply([IMPORT_HOW]))
        return
    name = document.file_name or "import.yaml"
    try:
        data = await _download(context, document, name)
    except CurationError as exc:
        assert author.id is not None
        _audit(deps, author.id, _command(update), f"invalid: {exc}")
        await send(update, context, render_admin.problem(exc))
        return
    work = _submit_work(lambda _s: import_change(name, data), deps.settings.review_required)
    await send(update, context, _perform(deps, update, author, work))


async def _download(context: Context, document: Document, name: str) -> bytes:
    limit = MAX_CHAT_IMPORT_BYTES
    if document.file_size is not None and document.file_size > limit:
        # Refused before downloading: the size is in the message already.
        raise CurationError(
            f"{name} is {document.file_size:,} bytes; files sent in chat may be "
            f"up to {limit // 1_000_000} MB"
        )
    try:
        file = await context.bot.get_file(document.file_id)
        return bytes(await file.download_as_bytearray())
    except TelegramError as exc:
        log.warning("could not download %s: %s", name, exc)
        raise CurationError(f"I could not download {name}; please send it again") from None


# --- review -----------------------------------------------------------------------------------


async def pending(update: Update, context: Context) -> None:
    def work(session: Session, _author: Author) -> tuple[Reply, str]:
        drafts, total = pending_drafts(session=session)
        return render_admin.drafts(drafts, total), f"listed {total} drafts"

    await _simple(update, context, work)


async def approve(update: Update, context: Context) -> None:
    text = _safe_args(update)
    notices: list[tuple[int, str]] = []

    def work(session: Session, author: Author) -> tuple[Reply, str]:
        draft_id = parse_draft_id(text, "approve")
        result = approve_draft(session, draft_id, approver=author, preview=render_admin.entry_card)
        assert result.draft is not None
        where = f" as #{result.entry_id}" if result.entry_id else ""
        notices.append(
            (
                result.draft.author_id,
                f"✅ Your draft {draft_id} was approved by {esc(author.name)}{where}.",
            )
        )
        return render_admin.outcome(result, approved_draft=draft_id), (
            f"approved draft {draft_id}: " + _summary(result)
        )

    if await _simple(update, context, work) is not None:
        await _notify(context.bot, notices)


async def reject(update: Update, context: Context) -> None:
    text = _safe_args(update)
    notices: list[tuple[int, str]] = []

    def work(session: Session, author: Author) -> tuple[Reply, str]:
        draft_id, reason = parse_reject(text)
        draft = reject_draft(session, draft_id, decider=author, reason=reason)
        if draft.author_id != author.id:
            notices.append(
                (
                    draft.author_id,
                    f"Your draft {draft_id} was rejected by "
                    f"{esc(author.name)}: {esc(draft.reason)}",
                )
            )
        return render_admin.rejected(draft), f"rejected draft {draft_id}: {draft.reason}"

    if await _simple(update, context, work) is not None:
        await _notify(context.bot, notices)


async def _notify(bot: Bot, notices: list[tuple[int, str]]) -> None:
    """Tell a draft's author what became of it; they may never have opened a chat with us."""
    for user_id, text in notices:
        try:
            await bot.send_message(user_id, text)
        except TelegramError as exc:
            log.info("could not notify %s about their draft: %s", user_id, exc)


# --- moderators, audit, help ------------------------------------------------------------------


async def mods(update: Update, context: Context) -> None:
    owners = deps_of(context).settings.admin_ids

    def work(session: Session, _author: Author) -> tuple[Reply, str]:
        listed = list_moderators(session=session)
        return render_admin.moderators(owners, listed), f"listed {len(listed)} moderators"

    await _simple(update, context, work)


def _target(update: Update, args: list[str]) -> tuple[int, str] | None:
    """Whom `/mod add|remove` means: a user id argument, or the author of the replied message."""
    if len(args) >= 2:
        raw = args[1].lstrip("#")
        if raw.isdigit() and 0 < int(raw) < 10**15:
            return int(raw), ""
        return None
    message = update.effective_message
    replied = message.reply_to_message if message else None
    if replied is not None and replied.from_user is not None and not replied.from_user.is_bot:
        return replied.from_user.id, replied.from_user.full_name
    return None


async def mod(update: Update, context: Context) -> None:
    """/mod add <user id> · /mod remove <user id> (or in reply to the user's message)."""
    deps = deps_of(context)
    owners = deps.settings.admin_ids
    args = _safe_args(update).split()
    sub = args[0].lower() if args else ""
    target = _target(update, args)
    changed: list[tuple[int, bool]] = []

    def work(session: Session, author: Author) -> tuple[Reply, str]:
        if sub not in ("add", "remove") or target is None:
            raise UsageError("say add or remove, and whom", "mod")
        user_id, name = target
        if roles.is_owner(user_id, owners):
            return Reply(
                [
                    f"{user_id} is an owner (ADMIN_IDS); owners are set in the "
                    "configuration, not here."
                ]
            ), f"{sub} {user_id}: is an owner"
        if sub == "add":
            assert author.id is not None
            if not add_moderator(session=session, user_id=user_id, added_by=author.id, name=name):
                return Reply([f"{user_id} is already a moderator."]), f"add {user_id}: already"
            changed.append((user_id, True))
            who = f"{user_id} ({esc(name)})" if name else str(user_id)
            return Reply(
                [
                    f"✅ {who} is now a moderator. Their command menu shows the "
                    "moderator commands; /modhelp explains them."
                ]
            ), f"added {user_id}"
        if not remove_moderator(session=session, user_id=user_id):
            return Reply([f"{user_id} is not a moderator."]), f"remove {user_id}: not one"
        changed.append((user_id, False))
        return Reply([f"✅ {user_id} is no longer a moderator."]), f"removed {user_id}"

    if await _simple(update, context, work, owners_only=True) is None:
        return
    for user_id, added in changed:
        if added:
            await _set_menu(context.bot, user_id, owner=False)
        else:
            await _clear_menu(context.bot, user_id)


async def audit(update: Update, context: Context) -> None:
    text = _safe_args(update)

    def work(session: Session, _author: Author) -> tuple[Reply, str]:
        count = parse_audit_count(text)
        records = recent_audit(session=session, limit=count)
        return render_admin.audit(records), f"listed {len(records)} records"

    await _simple(update, context, work, owners_only=True)


async def modhelp(update: Update, context: Context) -> None:
    author = await moderator_gate(update, context)
    if author is None:
        return
    settings = deps_of(context).settings
    owner = roles.is_owner(author.id, settings.admin_ids)
    await send(
        update, context, render_admin.help_reply(owner=owner, review=settings.review_required)
    )


async def help_addition(update: Update, context: Context) -> None:
    """After the public /help (group 1): moderators also get their own commands."""
    user = update.effective_user
    if user is None:
        return
    deps = deps_of(context)
    with session_scope(deps.engine) as session:
        allowed = roles.is_moderator(
            session=session, user_id=user.id, owners=deps.settings.admin_ids
        )
    if allowed:
        owner = roles.is_owner(user.id, deps.settings.admin_ids)
        await send(
            update,
            context,
            render_admin.help_reply(owner=owner, review=deps.settings.review_required),
        )


# --- the guided /add flow ---------------------------------------------------------------------


def _flow(context: Context, chat_id: int) -> dict[str, Any] | None:
    flows = context.user_data.get(FLOW_KEY) if context.user_data is not None else None
    return flows.get(chat_id) if flows else None


def _start_flow(context: Context, chat_id: int) -> dict[str, Any]:
    assert context.user_data is not None
    flow: dict[str, Any] = {"kind": None, "values": {}, "step": 0}
    context.user_data.setdefault(FLOW_KEY, {})[chat_id] = flow
    return flow


def _end_flow(context: Context, chat_id: int) -> int:
    if context.user_data is not None:
        context.user_data.get(FLOW_KEY, {}).pop(chat_id, None)
    return ConversationHandler.END


def _chat_id(update: Update) -> int:
    assert update.effective_chat is not None
    return update.effective_chat.id


async def add_start(update: Update, context: Context) -> int:
    """/add with no arguments: kind (buttons) → each field → preview → Confirm / Cancel."""
    author = await moderator_gate(update, context)
    if author is None:
        return _end_flow(context, _chat_id(update))
    assert author.id is not None
    deps = deps_of(context)
    if _safe_args(update):
        _audit(deps, author.id, _command(update), "usage: /add takes no arguments")
        await send(
            update,
            context,
            Reply(
                [
                    "/add takes no arguments: it asks for each field. For one line, use "
                    "<code>/add_event</code>, <code>/add_actor</code> or <code>/add_source</code> "
                    "(/modhelp)."
                ]
            ),
        )
        return _end_flow(context, _chat_id(update))
    _start_flow(context, _chat_id(update))
    _audit(deps, author.id, _command(update), "started the guided flow")
    await send(update, context, render_admin.choose_kind())
    return CHOOSE_KIND


async def _begin_kind(update: Update, context: Context, kind: str) -> int:
    flow = _flow(context, _chat_id(update)) or _start_flow(context, _chat_id(update))
    flow.update(kind=kind, values={}, step=0)
    steps = GUIDED_STEPS[kind]
    await send(update, context, render_admin.ask(steps[0], 1, len(steps)))
    return ANSWER


async def add_kind_button(update: Update, context: Context) -> int:
    query = update.callback_query
    assert query is not None and query.data is not None
    if await moderator_gate(update, context) is None:
        return _end_flow(context, _chat_id(update))
    await query.answer()
    await _drop_keyboard(update)
    return await _begin_kind(update, context, query.data.rsplit(":", 1)[1])


async def add_kind_text(update: Update, context: Context) -> int:
    if await moderator_gate(update, context) is None:
        return _end_flow(context, _chat_id(update))
    message = update.effective_message
    kind = (message.text or "").strip().lower() if message else ""
    if kind not in (EntryKind.EVENT, EntryKind.ACTOR, EntryKind.SOURCE):
        await send(update, context, render_admin.choose_kind())
        return CHOOSE_KIND
    return await _begin_kind(update, context, kind)


async def add_answer(update: Update, context: Context) -> int:
    """One typed answer: validated at once; a bad one is asked again, a good one moves on."""
    author = await moderator_gate(update, context)
    chat_id = _chat_id(update)
    if author is None:
        return _end_flow(context, chat_id)
    flow = _flow(context, chat_id)
    message = update.effective_message
    if flow is None or flow["kind"] is None or message is None:
        await send(update, context, Reply(["This /add has ended; send /add to start again."]))
        return _end_flow(context, chat_id)
    kind: str = flow["kind"]
    steps = GUIDED_STEPS[kind]
    step = steps[flow["step"]]
    text = clean_input(message.text or "", MAX_ADMIN_ARGUMENT)
    deps = deps_of(context)
    try:
        with session_scope(deps.engine) as session:
            value = check_step(session, kind, step, text)
    except CurationError as exc:
        reply = render_admin.ask(step, flow["step"] + 1, len(steps), str(exc))
        if isinstance(exc, UnknownSource):
            reply = Reply([*render_admin.problem(exc).parts, *reply.parts])
        await send(update, context, reply)
        return ANSWER
    flow["values"][step.field] = value
    flow["step"] += 1
    if flow["step"] < len(steps):
        nxt = steps[flow["step"]]
        await send(update, context, render_admin.ask(nxt, flow["step"] + 1, len(steps)))
        return ANSWER
    return await _preview(update, context, author, flow)


async def _preview(update: Update, context: Context, author: Author, flow: dict[str, Any]) -> int:
    change = guided_change(flow["kind"], flow["values"])
    try:
        with session_scope(deps_of(context).engine) as session:
            with trial(session, change, author=author) as applied:
                assert applied.entry_id is not None
                card = render_admin.entry_card(session, applied.entry_id)
                duplicate = applied.duplicate_of
            session.rollback()  # nothing of the trial may outlive the preview
    except CurationError as exc:
        await send(update, context, render_admin.problem(exc))
        await send(update, context, Reply(["Send /add to start again."]))
        return _end_flow(context, _chat_id(update))
    await send(update, context, render_admin.guided_preview(card, duplicate))
    return CONFIRM


async def add_confirm(update: Update, context: Context) -> int:
    query = update.callback_query
    assert query is not None
    chat_id = _chat_id(update)
    author = await moderator_gate(update, context)
    if author is None:
        return _end_flow(context, chat_id)
    await query.answer()
    await _drop_keyboard(update)
    flow = _flow(context, chat_id)
    if flow is None or flow["kind"] is None:
        await send(update, context, Reply(["This /add has ended; send /add to start again."]))
        return _end_flow(context, chat_id)
    deps = deps_of(context)
    change = guided_change(flow["kind"], flow["values"])
    # The moderator saw any duplicate warning in the preview: confirming means "save anyway".
    work = _submit_work(lambda _s: change, deps.settings.review_required, confirmed=True)
    await send(update, context, _perform(deps, update, author, work))
    return _end_flow(context, chat_id)


async def add_cancel(update: Update, context: Context) -> int:
    """/cancel or ✖ at any step: drop the answers; nothing was written."""
    query = update.callback_query
    if query is not None:
        await query.answer()
        await _drop_keyboard(update)
    user = update.effective_user
    if user is not None:
        _audit(deps_of(context), user.id, _command(update), "cancelled the guided flow")
    await send(update, context, Reply(["Cancelled. Nothing was saved."]))
    return _end_flow(context, _chat_id(update))


async def add_timeout(update: Update, context: Context) -> None:
    """Ten minutes without an answer: say so and forget the answers (nothing was written)."""
    chat = update.effective_chat
    user = update.effective_user
    if chat is None:
        return
    _end_flow(context, chat.id)
    if user is not None:
        _audit(
            deps_of(context),
            user.id,
            "/add (timed out)",
            f"expired after {ADD_FLOW_TIMEOUT // 60} minutes",
        )
    await context.bot.send_message(
        chat.id,
        "⌛ The /add flow expired after 10 minutes without an answer. Nothing was "
        "saved; send /add to start again.",
    )


async def nothing_to_cancel(update: Update, context: Context) -> None:
    await send(update, context, Reply(["There is nothing to cancel."]))


async def stale_add_button(update: Update, _context: Context) -> None:
    if update.callback_query is not None:
        await update.callback_query.answer("This /add has ended; send /add to start again.")


def _add_conversation() -> ConversationHandler[Any]:
    text = filters.TEXT & ~filters.COMMAND
    with warnings.catch_warnings():
        # Buttons belong to the moderator's conversation in this chat, not to one message:
        # per_message=False is what we want, so PTB's reminder about it is noise here.
        warnings.filterwarnings("ignore", message=".*per_message=False.*", category=PTBUserWarning)
        return ConversationHandler(
            entry_points=[CommandHandler("add", add_start)],
            states={
                CHOOSE_KIND: [
                    CallbackQueryHandler(add_kind_button, pattern=r"^add:k:(event|actor|source)$"),
                    MessageHandler(text, add_kind_text),
                ],
                ANSWER: [MessageHandler(text, add_answer)],
                CONFIRM: [CallbackQueryHandler(add_confirm, pattern=r"^add:ok$")],
                ConversationHandler.TIMEOUT: [TypeHandler(Update, add_timeout)],
            },
            fallbacks=[
                CommandHandler("cancel", add_cancel),
                CallbackQueryHandler(add_cancel, pattern=r"^add:no$"),
            ],
            allow_reentry=True,
            conversation_timeout=ADD_FLOW_TIMEOUT,
            name="add_flow",
        )


# --- registration and menus -------------------------------------------------------------------


def register(application: App) -> None:
    """Add the moderation handlers; they come before the public ones (see bot/app.py)."""
    # The conversation first: while a moderator is answering /add, their text is an answer.
    application.add_handler(_add_conversation())
    for name, callback in (
        ("add_event", add_event),
        ("add_actor", add_actor),
        ("add_source", add_source),
        ("edit", edit),
        ("retract", retract),
        ("history", history),
        ("undo", undo),
        ("export", export),
        ("import", import_command),
        ("pending", pending),
        ("approve", approve),
        ("reject", reject),
        ("mods", mods),
        ("mod", mod),
        ("audit", audit),
        ("modhelp", modhelp),
        ("cancel", nothing_to_cancel),
    ):
        application.add_handler(CommandHandler(name, callback))
    # A file whose caption is /import: CommandHandler reads text only, not captions.
    application.add_handler(
        MessageHandler(
            filters.Document.ALL & filters.CaptionRegex(r"^/import(@\w+)?(\s|$)"), import_command
        )
    )
    application.add_handler(CallbackQueryHandler(confirm_button, pattern=r"^mc:[yn]:\d{1,12}$"))
    application.add_handler(CallbackQueryHandler(history_button, pattern=r"^mh:\d{1,9}:\d{1,7}$"))
    application.add_handler(CallbackQueryHandler(stale_add_button, pattern=r"^add:"))
    # Group 1 runs after the public /help has answered: moderators get a second message.
    application.add_handler(CommandHandler("help", help_addition), group=1)


def _menu(owner: bool) -> list[BotCommand]:
    from bot.app import PUBLIC_COMMANDS  # bot.app imports this module; import late

    commands: dict[str, BotCommand] = {}
    for command in [*PUBLIC_COMMANDS, *MODERATOR_COMMANDS, *(OWNER_COMMANDS if owner else [])]:
        commands.setdefault(command.command, command)
    return list(commands.values())


async def _set_menu(bot: Bot, user_id: int, *, owner: bool) -> bool:
    """The admin command menu in this user's private chat with the bot."""
    try:
        await bot.set_my_commands(_menu(owner), scope=BotCommandScopeChat(user_id))
    except TelegramError as exc:
        # Typically "chat not found": they have never opened a chat with the bot.
        log.warning("could not set the admin menu for %s: %s", user_id, exc)
        return False
    return True


async def _clear_menu(bot: Bot, user_id: int) -> None:
    try:
        await bot.delete_my_commands(scope=BotCommandScopeChat(user_id))
    except TelegramError as exc:
        log.warning("could not remove the admin menu of %s: %s", user_id, exc)


async def publish_admin_menus(application: App) -> None:
    """Scoped command menus for owners and moderators (everyone else sees the public menu)."""
    deps = deps_of(application)
    owners = deps.settings.admin_ids
    with session_scope(deps.engine) as session:
        moderators = moderator_ids(session=session)
    for user_id in sorted(owners):
        await _set_menu(application.bot, user_id, owner=True)
    for user_id in sorted(set(moderators) - set(owners)):
        await _set_menu(application.bot, user_id, owner=False)
