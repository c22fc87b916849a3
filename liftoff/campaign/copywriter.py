"""The copy a segment gets, how it is checked, and how it is personalised per customer.

Copy is written once per segment (recommended product × category of the last purchase) by a
copywriter (the deterministic template, or an LLM: `liftoff.campaign.llm`), then personalised
per customer by plain templating. Nothing a copywriter writes ever decides who receives what.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

import psycopg
from pydantic import BaseModel, ConfigDict, Field, field_validator

from liftoff.campaign.audience import Recipient, Segment
from liftoff.campaign.wording import definite_article, noun_gender

EMAIL_COPY_LIMIT = 500
SUBJECT_LIMIT = 120
PRODUCT_NAME_LIMIT = 150  # a longer CRM name is cut in the copy (the product card shows it whole)
_URL = re.compile(r"(?i)\b(?:https?://|www\.)[^\s<>\"']+")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_MARKUP = re.compile(r"[<>{}]")
# Invented urgency or scarcity: the campaign knows no stock level and sets no deadline, so copy
# that claims one (a template edit or an LLM's habit) is rejected like a link would be.
URGENCY = re.compile(
    r"(?i)\b(?:antes que (?:acabe|acabem|esgote|esgotem|termine)|[úu]ltimas? (?:unidades?|pe[çc]as?|chances?)"
    r"|[úu]ltimos (?:dias|itens)|[úu]ltimas horas|enquanto (?:h[áa]|houver|durar|durarem|tiver)\b"
    r"|(?:s[óo]|somente|apenas) (?:hoje|até)|por tempo limitado|tempo limitado|estoque limitado"
    r"|oferta rel[âa]mpago|corra\b|n[ãa]o perca|n[ãa]o fique de fora|restam? (?:poucas|poucos|apenas)"
    r"|poucas unidades|garanta (?:j[áa]|o seu|a sua|logo)|aproveite (?:j[áa]|agora|logo)|compre j[áa]"
    r"|(?:acaba|termina) (?:hoje|amanh[ãa])|(?:vai|est[áa]) (?:acabar|acabando|esgotando)|esgota)"
)


class CampaignCopy(BaseModel):
    """What a copywriter must return for a segment (also the JSON schema the LLM is given)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    subject: str = Field(
        min_length=3, max_length=120, description="Assunto do e-mail, sem o nome do cliente."
    )
    email_copy: str = Field(
        min_length=20,
        max_length=EMAIL_COPY_LIMIT,
        description="Texto curto e persuasivo do e-mail (até 500 caracteres, emojis permitidos), "
        "sem saudação, sem links e sem endereços.",
    )
    telegram_text: str = Field(
        min_length=10, max_length=600, description="Mensagem curta para Telegram, sem links e sem endereços."
    )

    @field_validator("subject", "email_copy", "telegram_text")
    @classmethod
    def _no_links_addresses_or_markup(cls, text: str) -> str:
        # Links are added by the layout (ours only); an address in the copy could be an injected
        # recipient or a phishing contact; markup could break the layout.
        if _URL.search(text):
            raise ValueError("copy must not contain links (the layout adds the product link)")
        if _EMAIL.search(text):
            raise ValueError("copy must not contain e-mail addresses")
        if _MARKUP.search(text):
            raise ValueError("copy must not contain markup or template braces (< > { })")
        return text


def invented_urgency(copy: CampaignCopy, segment: Segment) -> str | None:
    """The first urgency or scarcity claim the copy makes, else None.

    The product's name and category are left out of the search: a product called "Tênis Corra
    Mais" is not a claim. A description is searched: repeating "últimas unidades" from the CRM's
    text still tells the customer something the campaign cannot back.
    """
    data = [segment.recommended_product_name, product_label(segment), segment.last_category]
    for text in (copy.subject, copy.email_copy, copy.telegram_text):
        for value in sorted({_plain(v or "") for v in data} - {""}, key=len, reverse=True):
            text = text.replace(value, " ")
        if match := URGENCY.search(text):
            return match.group(0)
    return None


class Copywriter(Protocol):
    name: str

    def write(self, segment: Segment, campaign_id: str) -> tuple[CampaignCopy, str, str | None]:
        """(copy, source 'llm' | 'llm-cache' | 'template', fallback reason or None)."""


def brl(amount: Decimal) -> str:
    """R$ in Brazilian format: R$ 1.234,56."""
    cents = Decimal(amount).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    whole, _, fraction = f"{cents:,.2f}".partition(".")
    return f"R$ {whole.replace(',', '.')},{fraction}"


class TemplateCopywriter:
    """Deterministic copy in the seed's voice: the default without an LLM, and every fallback."""

    name = "template"

    def write(self, segment: Segment, campaign_id: str) -> tuple[CampaignCopy, str, str | None]:
        return template_copy(segment), "template", None


def template_copy(segment: Segment) -> CampaignCopy:
    """The segment's copy in plain shop Portuguese, saying only what the data backs.

    What it says is true by the audience rule: the product is among the best sellers of the
    category over the last three months, the category of the customer's latest purchase, at its
    price. Grammar: an article goes before the product's name only when its noun's gender is
    known (liftoff.campaign.wording); otherwise nothing in the copy agrees with the product.
    """
    product = product_label(segment)
    category = _plain(segment.last_category)
    price = brl(segment.recommended_price)
    article = definite_article(noun_gender(product))
    chosen = (
        f"Escolhemos {article} {product} para você" if article else f"Nossa sugestão para você: {product}"
    )
    fits = f"entre os campeões de vendas de {category} nos últimos três meses"
    email_copy = f"{chosen}. Está {fits}, a mesma categoria da sua compra mais recente, e custa {price}."
    telegram_text = f"{chosen}, {fits}, por {price}."
    detail = _description_beyond_name(segment, 600 - len(telegram_text) - 1)
    if detail:
        telegram_text = f"{telegram_text}\n{detail}"
    return CampaignCopy(
        subject=subject_naming(product, f"Sugestão para você: {product} por {price}"),
        email_copy=_clip(email_copy, EMAIL_COPY_LIMIT),
        telegram_text=telegram_text,
    )


def product_label(segment: Segment) -> str:
    """The product's name as the copy may print it (a CRM name with no usable text gets its id)."""
    name = _plain(segment.recommended_product_name or "") or f"Produto {segment.recommended_product_id}"
    return _clip(name, PRODUCT_NAME_LIMIT)


def subject_naming(product: str, subject: str) -> str:
    """`subject` when it names the product (what the inbox shows first), else the name put in front
    of it; never longer than the subject's limit (a long name is cut, the name first)."""
    if product.casefold() not in subject.casefold():
        subject = f"{product}: {subject}" if subject else product
    return _clip(subject, SUBJECT_LIMIT)


def _description_beyond_name(segment: Segment, room: int) -> str:
    """The CRM's description when it says more than the name, cut to `room` characters."""
    description = _plain(segment.recommended_description or "")
    name = _plain(segment.recommended_product_name or "")
    if not description or description.casefold().strip(" .") == name.casefold() or room < 20:
        return ""
    if URGENCY.search(description.replace(name, " ")):  # data, but not a claim the shop can back
        return ""
    return _clip(description, room)


def _clip(text: str, limit: int) -> str:
    """`text` within `limit` characters, cut at a word with an ellipsis when it is longer."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    at_word = cut.rsplit(" ", 1)[0]
    return (at_word if len(at_word) > limit // 2 else cut).rstrip(" ,;:") + "…"


def _plain(text: str) -> str:
    """CRM text made safe for the copy checks (a product name is data, never markup or a link)."""
    return _MARKUP.sub("", _URL.sub("", _EMAIL.sub("", text))).strip()


@dataclass(frozen=True)
class PersonalCopy:
    subject: str
    greeting: str
    email_copy: str
    telegram_text: str


def personalise(copy: CampaignCopy, recipient: Recipient) -> PersonalCopy:
    """Per customer, by template only: the greeting names them; the copy is the segment's."""
    first_name = recipient.first_name.strip() or "cliente"
    return PersonalCopy(
        subject=copy.subject,
        greeting=f"Olá, {first_name}!",
        email_copy=copy.email_copy,
        telegram_text=f"Olá, {first_name}! {copy.telegram_text}",
    )


def store_segment_copy(
    dsn: str, campaign_id: str, segments: list[Segment], copywriter: Copywriter
) -> dict[str, int]:
    """Write the copy of every segment of the campaign that has none yet; counts by source.

    A rerun keeps the copy an earlier run wrote (`kept`): messages of the campaign may already have
    gone out with it, and a retried batch must say the same thing. It also costs no LLM call and
    logs none, so running the campaign again for its day changes no table. Copy of segments that
    left the audience (a rerun rebuilt it) is removed.
    """
    counts: dict[str, int] = {}
    keys = [segment.segment_key for segment in segments]
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "delete from campaign.segment_copy where campaign_id = %s and not (segment_key = any(%s))",
            (campaign_id, keys),
        )
        written = {
            key
            for (key,) in conn.execute(
                "select segment_key from campaign.segment_copy where campaign_id = %s", (campaign_id,)
            )
        }
        conn.commit()
        for segment in segments:
            if segment.segment_key in written:
                counts["kept"] = counts.get("kept", 0) + 1
                continue
            copy, source, reason = copywriter.write(segment, campaign_id)
            conn.execute(
                "insert into campaign.segment_copy (campaign_id, segment_key, subject, email_copy,"
                " telegram_text, copy_source, fallback_reason) values (%s, %s, %s, %s, %s, %s, %s)",
                (
                    campaign_id,
                    segment.segment_key,
                    copy.subject,
                    copy.email_copy,
                    copy.telegram_text,
                    source,
                    reason,
                ),
            )
            counts[source] = counts.get(source, 0) + 1
            conn.commit()  # an LLM call is slow and paid for: keep what is done
    return counts


def load_segment_copy(conn: psycopg.Connection, campaign_id: str) -> dict[str, CampaignCopy]:
    rows = conn.execute(
        "select segment_key, subject, email_copy, telegram_text from campaign.segment_copy"
        " where campaign_id = %s",
        (campaign_id,),
    ).fetchall()
    return {
        key: CampaignCopy.model_construct(subject=subject, email_copy=body, telegram_text=telegram)
        for key, subject, body, telegram in rows
    }
