"""build_application(): defaults, handlers in order, the error handler and the command menu."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from telegram import LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    InlineQueryHandler,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest

from bot import errors
from bot.config import Settings
from bot.context import DEPS_KEY, Deps
from bot.delivery import replies, scheduler
from bot.delivery.budget import SendBudget
from bot.delivery.replies import BudgetLimiter
from bot.gates import moderator_forward
from bot.handlers import (
    admin,
    channels,
    curation,
    digest,
    guided_add,
    language,
    propose,
    public,
    questions,
    review,
    subscriptions,
    transfer,
)
from bot.menus import publish_admin_menus, publish_public_menus
from bot.transport import operations
from bot.transport.request import AiohttpRequest
from bot.transport.updates import PerChatUpdateProcessor


def build_application(
    settings: Settings,
    engine: Engine,
    *,
    request: BaseRequest | None = None,
    updates_request: BaseRequest | None = None,
    token: str | None = None,
    rate_limiter: AIORateLimiter | None = None,
) -> Application[Any, Any, Any, Any, Any, Any]:
    """The whole bot, ready to run (polling, webhook, or the offline console)."""
    # Typed loosely: `rate_limiter()` below changes the bot type (ExtBot[None] to ExtBot[int]).
    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = (
        ApplicationBuilder()
        .token(token or settings.token or "")
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.telegram_api_base_url.replace("/bot", "/file/bot", 1))
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )
        .post_init(post_init)
        .post_shutdown(_post_shutdown)
        # Updates from one chat are handled in order, different chats concurrently.
        .concurrent_updates(PerChatUpdateProcessor())
    )
    # Bot API calls go over aiohttp rather than PTB's default httpx: it costs far less CPU per
    # request, which is what lets one process send paid broadcasts quickly and keeps replies
    # quick meanwhile (bot/transport/request.py; docs/BENCHMARKS.md has the figures). Pool
    # sizes as PTB's defaults: 256 for calls, 1 for getUpdates.
    builder = builder.request(request or AiohttpRequest(connection_pool_size=256))
    builder = builder.get_updates_request(
        updates_request or AiohttpRequest(connection_pool_size=1)
    )
    # One send budget for the whole bot (BROADCAST_RATE messages a second): every message a
    # handler sends or edits goes through it ahead of digests (bot/delivery/budget.py).
    budget = SendBudget(settings.broadcast_rate)
    builder = builder.rate_limiter(rate_limiter or BudgetLimiter(budget))
    application = builder.build()
    application.bot_data[DEPS_KEY] = Deps(settings=settings, engine=engine)

    # Group -1 runs before everything: dedupe and metrics see every update first.
    operations.register_early(application)
    replies.attach(application, budget)

    # Commands. Moderation comes before public so its refusals can't be shadowed.
    _register_moderation(application)
    subscriptions.register(application)
    channels.register(application)
    # /digest, before the catch-all for unknown commands
    application.add_handler(CommandHandler("digest", digest.digest_command))
    application.add_handler(CommandHandler("start", public.start))
    application.add_handler(CommandHandler("help", public.help_command))
    application.add_handler(CommandHandler(["about", "briefing"], public.about))
    application.add_handler(CommandHandler("timeline", public.timeline))
    application.add_handler(CommandHandler("event", public.event))
    application.add_handler(CommandHandler("who", public.who))
    application.add_handler(CommandHandler("sources", public.sources))
    application.add_handler(CommandHandler("search", public.search))
    application.add_handler(CommandHandler("ask", questions.ask))
    application.add_handler(CommandHandler("language", language.language))

    # Buttons: each prefix owns its callback data; anything else is stale.
    application.add_handler(CallbackQueryHandler(public.timeline_button, pattern=r"^tl:"))
    application.add_handler(CallbackQueryHandler(public.search_button, pattern=r"^sr:"))
    application.add_handler(
        CallbackQueryHandler(public.open_button, pattern=r"^(ev|who|src|open):\d{1,9}$")
    )
    application.add_handler(CallbackQueryHandler(public.noop_button, pattern=r"^noop$"))
    application.add_handler(
        CallbackQueryHandler(language.language_button, pattern=r"^lang:[a-z]{2,3}$")
    )
    application.add_handler(InlineQueryHandler(public.inline_query))

    # Last: whatever nobody else handled (the order here matters).
    application.add_handler(CallbackQueryHandler(public.stale_button))
    application.add_handler(
        MessageHandler(filters.COMMAND & filters.UpdateType.MESSAGE, public.unknown_command)
    )
    # Text that no conversation took (answers to /add and /propose come first, above) is a
    # question: always in a private chat, in a group only when it addresses the bot; a post a
    # moderator forwards in a private chat is offered for /propose instead (_plain_text).
    application.add_handler(
        MessageHandler(filters.TEXT & ~filters.COMMAND & filters.UpdateType.MESSAGE, _plain_text)
    )
    application.add_error_handler(errors.error_handler)
    return application


async def _plain_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Text no conversation took. A post a moderator forwards in a private chat is offered
    for /propose (a button); anything else, a reader's forward included, is a question."""
    if await moderator_forward(update, context):
        await propose.offer_forward(update, context)
    else:
        await questions.question_text(update, context)


async def post_init(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Register the command menu (admins get theirs per chat) and start scheduled work."""
    await publish_public_menus(application)
    await publish_admin_menus(application)
    await scheduler.start(application)
    await operations.start(application)


async def _post_shutdown(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    await scheduler.stop(application)
    await operations.stop(application)


def _register_moderation(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """The moderation handlers; they come before the public ones, so refusals aren't shadowed."""
    # Conversations first: while a moderator is answering /add, or /propose's question (the
    # source, a field's new value), their text is an answer, before any question engine.
    application.add_handler(guided_add.add_conversation())
    application.add_handler(propose.propose_conversation())
    propose.register_buttons(application)
    for name, callback in (
        ("add_event", curation.add_event),
        ("add_actor", curation.add_actor),
        ("add_source", curation.add_source),
        ("edit", curation.edit),
        ("retract", curation.retract),
        ("history", curation.history),
        ("undo", curation.undo),
        ("export", transfer.export),
        ("import", transfer.import_command),
        ("pending", review.pending),
        ("approve", review.approve),
        ("reject", review.reject),
        ("mods", admin.mods),
        ("mod", admin.mod),
        ("audit", admin.audit),
        ("gaps", questions.gaps),
        ("modhelp", admin.modhelp),
        ("cancel", guided_add.nothing_to_cancel),
    ):
        application.add_handler(CommandHandler(name, callback))
    # A file whose caption is /import: CommandHandler reads text only, not captions.
    application.add_handler(
        MessageHandler(
            filters.Document.ALL & filters.CaptionRegex(r"^/import(@\w+)?(\s|$)"),
            transfer.import_command,
        )
    )
    application.add_handler(
        CallbackQueryHandler(curation.confirm_button, pattern=r"^mc:[yn]:\d{1,9}$")
    )
    application.add_handler(
        CallbackQueryHandler(curation.history_button, pattern=r"^mh:\d{1,9}:\d{1,7}$")
    )
    application.add_handler(CallbackQueryHandler(guided_add.stale_add_button, pattern=r"^add:"))
    # Group 1 runs after the public /help has answered: moderators get a second message.
    application.add_handler(CommandHandler("help", admin.help_addition), group=1)
