"""Questions in plain words: any text in a private chat, `/ask` anywhere, and in groups a
message that mentions the bot or replies to it. Moderators see the unanswered ones (/gaps).

Plain chatter in a group is left alone: the bot answers there only when addressed.
"""

from __future__ import annotations

from functools import partial

from sqlmodel import Session
from telegram import Message, Update
from telegram.constants import ChatType, MessageEntityType

from bot import answers
from bot.chat import argument_or_refuse, send
from bot.context import deps_of, run_db
from bot.gates import Context, run_admin
from bot.language import reader_language
from bot.presenters.html import Reply
from bot.presenters.questions import ask_hint, gaps_reply
from knowledge.language.names import clean_input
from knowledge.language.questions import MAX_QUESTION
from knowledge.write.curation import Author
from knowledge.write.gaps import record_gap, top_gaps


async def ask(update: Update, context: Context) -> None:
    """/ask QUESTION, in any chat."""
    text = await argument_or_refuse(update, context, max_length=MAX_QUESTION)
    if text is None:
        return
    if not text.strip():
        await send(update, context, ask_hint(await reader_language(update, context)))
        return
    await answer(update, context, text)


async def question_text(update: Update, context: Context) -> None:
    """Text that is not a command: a question in a private chat; in a group only when it
    mentions the bot or replies to one of its messages."""
    message = update.effective_message
    chat = update.effective_chat
    if message is None or chat is None or not message.text:
        return
    text = message.text
    if chat.type != ChatType.PRIVATE:
        addressed = _addressed_text(message, context.bot.username, context.bot.id)
        if addressed is None:
            return
        text = addressed
    if not text.strip():
        await send(update, context, ask_hint(await reader_language(update, context)))
        return
    await answer(update, context, text)


def _addressed_text(message: Message, username: str | None, bot_id: int) -> str | None:
    """The question in a group message addressed to the bot (mention removed), or None."""
    text = message.text or ""
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot_id:
        return text
    if not username:
        return None
    mention = f"@{username}".casefold()
    for entity in message.entities or ():
        if entity.type != MessageEntityType.MENTION:
            continue
        # Offsets count UTF-16 code units; the text's own slice is what Telegram meant.
        said = message.parse_entity(entity)
        if said.casefold() == mention:
            return " ".join(text.replace(said, " ").split())
    return None


async def answer(update: Update, context: Context, text: str) -> None:
    """Answer one question, and keep it for /gaps when the briefing could not answer it."""
    question = clean_input(text, MAX_QUESTION)
    asked = await run_db(
        context,
        partial(
            answers.question_answer,
            text=question,
            interface=await reader_language(update, context),
        ),
    )
    await send(update, context, asked.reply)
    if asked.gap:
        await run_db(
            context,
            lambda session: record_gap(
                session=session, text=question, language=asked.language, unsure=asked.unsure
            ),
            write=True,
        )


async def gaps(update: Update, context: Context) -> None:
    """/gaps: moderators see the questions readers asked that the briefing could not answer."""
    days = deps_of(context).settings.gaps_retention_days
    language = await reader_language(update, context)

    def work(session: Session, _author: Author) -> tuple[Reply, str]:
        found = top_gaps(session=session, days=days)
        reply = gaps_reply(found, days, language=language)
        return reply, f"listed {len(found)} unanswered questions"

    await run_admin(update, context, work, language=language)
