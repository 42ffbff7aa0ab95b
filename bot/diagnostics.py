"""What the providers say about our configuration (for `ketpaar doctor`), through their real SDKs."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Bot
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.request import HTTPXRequest


@dataclass(frozen=True)
class TelegramStatus:
    """The bot behind a token, and where Telegram delivers its updates."""

    problem: str = ""  # empty when Telegram answered; else why not (token rejected, unreachable)
    token_rejected: bool = False
    username: str = ""
    webhook_url: str = ""
    pending_updates: int = 0
    last_error: str = ""  # Telegram's last failure delivering to our webhook, if any


async def telegram_status(token: str, api_base: str, *, timeout_s: float = 10) -> TelegramStatus:
    """Ask Telegram (getMe, getWebhookInfo) whether the token works and where the webhook points."""
    base = api_base.rstrip("/")
    request = HTTPXRequest(connection_pool_size=1, read_timeout=timeout_s, connect_timeout=timeout_s)
    bot = Bot(token, base_url=f"{base}/bot", base_file_url=f"{base}/file/bot", request=request)
    try:
        me = await bot.get_me()
        info = await bot.get_webhook_info()
    except InvalidToken:
        return TelegramStatus(problem="Telegram rejected the bot token", token_rejected=True)
    except NetworkError as exc:
        return TelegramStatus(problem=f"Telegram could not be reached: {type(exc).__name__}")
    except TelegramError as exc:
        return TelegramStatus(problem=f"Telegram answered with an error: {exc.message}")
    finally:
        await request.shutdown()
    return TelegramStatus(username=me.username or "", webhook_url=info.url or "", pending_updates=info.pending_update_count,
                          last_error=info.last_error_message or "")  # fmt: skip
