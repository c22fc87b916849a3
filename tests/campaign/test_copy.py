"""The template copy reads like a shop wrote it: grammatical whatever the product's gender, a
subject naming the product, no invented urgency, more than the product's name.

Grammar is checked by a small agreement checker written here, independent of the copywriter's
lexicon: every gendered determiner or possessive in the copy must be followed (after modifiers)
by a noun whose gender and number it agrees with. The product's gender comes from the CRM
simulator's catalogue (each kind's gender) or, for odd CRM names, from this test's own table;
a product of unknown gender must have no determiner at all, and no pronoun may refer to it.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest

from liftoff.campaign.audience import Segment
from liftoff.campaign.copywriter import CampaignCopy, invented_urgency, template_copy
from liftoff.ingest import simulator

PRODUCT, CATEGORY, DESCRIPTION = "⟨produto⟩", "⟨categoria⟩", "⟨descrição⟩"

# word → (gender, number); None gender = invariant. Contractions included (de/em/a/por + article).
_DETERMINERS = {
    **dict.fromkeys(("o", "do", "no", "ao", "pelo", "um", "este", "esse", "aquele"), ("m", "s")),
    **dict.fromkeys(("a", "da", "na", "à", "pela", "uma", "esta", "essa", "aquela"), ("f", "s")),
    **dict.fromkeys(("os", "dos", "nos", "aos", "pelos", "uns"), ("m", "p")),
    **dict.fromkeys(("as", "das", "nas", "às", "pelas", "umas"), ("f", "p")),
    **dict.fromkeys(("seu", "nosso", "meu", "teu"), ("m", "s")),
    **dict.fromkeys(("sua", "nossa", "minha", "tua"), ("f", "s")),
    **dict.fromkeys(("seus", "nossos", "meus"), ("m", "p")),
    **dict.fromkeys(("suas", "nossas", "minhas"), ("f", "p")),
}
_MODIFIERS = {  # between a determiner and its noun
    "mesmo": ("m", "s"), "mesma": ("f", "s"), "último": ("m", "s"), "última": ("f", "s"),
    "últimos": ("m", "p"), "últimas": ("f", "p"), "novo": ("m", "s"), "nova": ("f", "s"),
    "três": (None, "p"), "dois": ("m", "p"), "duas": ("f", "p"), "grande": (None, "s"),
    "melhor": (None, "s"), "melhores": (None, "p"),
}  # fmt: skip
_NOUNS = {
    "campeões": ("m", "p"), "campeão": ("m", "s"), "vendas": ("f", "p"), "venda": ("f", "s"),
    "meses": ("m", "p"), "categoria": ("f", "s"), "compra": ("f", "s"), "sugestão": ("f", "s"),
    "produto": ("m", "s"), "produtos": ("m", "p"), "preço": ("m", "s"), "loja": ("f", "s"),
    "escolha": ("f", "s"), "recomendação": ("f", "s"),
}  # fmt: skip
_PRONOUNS = {"ele", "ela", "eles", "elas", "dele", "dela", "deles", "delas"}
_CLITICS = {"o", "a", "os", "as", "lo", "la", "los", "las", "no", "na"}  # leve-a, compre-o
_TOKEN = re.compile(r"⟨[^⟩]+⟩|[\wÀ-ÿ]+(?:-[\wÀ-ÿ]+)*")


def agreement_errors(text: str, gender: str | None) -> list[str]:
    """What in `text` (data already replaced by the ⟨…⟩ placeholders) does not agree."""
    words = [w.lower() if not w.startswith("⟨") else w for w in _TOKEN.findall(text)]
    errors = [f"pronoun {w!r}" for w in words if w in _PRONOUNS]
    errors += [f"clitic pronoun in {w!r}" for w in words if "-" in w and w.rsplit("-", 1)[1] in _CLITICS]
    for i, word in enumerate(words):
        if word not in _DETERMINERS or (i > 0 and words[i - 1] in _DETERMINERS):
            continue  # a possessive after an article is checked with that article
        phrase = [word]
        j = i + 1
        while j < len(words) and (words[j] in _MODIFIERS or words[j] in _DETERMINERS):
            phrase.append(words[j])
            j += 1
        noun = words[j] if j < len(words) else "<end>"
        if noun == PRODUCT:
            if gender is None:
                errors.append(f"{' '.join(phrase)!r} before a product of unknown gender")
                continue
            features = (gender, "s")
        elif noun in _NOUNS:
            features = _NOUNS[noun]
        elif noun in (CATEGORY, DESCRIPTION):
            errors.append(f"{' '.join(phrase)!r} before data of unknown gender ({noun})")
            continue
        else:
            errors.append(f"{' '.join(phrase)!r} before {noun!r}, not a noun this checker knows")
            continue
        for determiner in phrase:
            g, n = _DETERMINERS.get(determiner) or _MODIFIERS[determiner]
            if n != features[1] or (g is not None and g != features[0]):
                errors.append(f"{determiner!r} does not agree with {noun!r} {features}")
    return errors


def placeholders(text: str, segment: Segment) -> str:
    """The copy with the segment's data replaced, so only the template's own words are checked."""
    for value, mark in (
        (segment.recommended_description, DESCRIPTION),
        (segment.recommended_product_name, PRODUCT),
        (segment.last_category, CATEGORY),
    ):
        if value:
            text = text.replace(value, mark)
    return text


def segment(name: str, category: str = "Eletrônico", description: str | None = None, price="1234.50"):
    return Segment(
        segment_key=f"7:{category}",
        last_category=category,
        recommended_product_id=7,
        recommended_product_name=name,
        recommended_description=description,
        recommended_price=Decimal(price),
        customers=3,
    )


def simulator_products() -> list[tuple[str, str | None, str]]:
    """(name, description, gender) of the catalogue the simulator sells: every kind in every
    brand, and every product of a real snapshot (names and descriptions as produced)."""
    genders = simulator.PRODUCT_GENDER
    kinds = sorted(genders, key=len, reverse=True)
    rows = [(f"{kind} {brand} 0042", None, genders[kind]) for kind in genders for brand in simulator._BRANDS]
    for row in simulator.snapshot("products", date(2024, 3, 1)).to_pylist():
        kind = next(k for k in kinds if row["name"].startswith(k + " "))
        rows.append((row["name"], row["description"], genders[kind]))
    return rows


SIMULATOR_PRODUCTS = simulator_products()
# Names a CRM may hold beyond the catalogue, with the gender a Portuguese speaker gives them
# (None: the name does not start with a noun of a known gender).
ODD_NAMES = {
    "Kit 3 meias esportivas": "m",
    "Meias esportivas (par)": None,
    "iPhone 15 128GB": None,
    "Óculos de Sol Polarizado": None,
    "Capa para Smartphone": "f",
    "TV Box 4K": "m",
    "Livro: O Pequeno Príncipe": "m",
    "Tênis Corra Mais": "m",
    "X" * 300: None,
    "  ": None,
    "<b>Oferta</b> <script>alert(1)</script>": None,
    "Visite https://golpe.example já": None,
    "Lâmpada LED": None,
}


def copy_texts(copy: CampaignCopy) -> list[str]:
    return [copy.subject, copy.email_copy, copy.telegram_text]


def test_the_checker_catches_the_old_template_with_a_feminine_product():
    old = f"Quem gosta de {CATEGORY} vai adorar {PRODUCT}. Garanta o seu antes que acabe!"
    assert agreement_errors(old, "f")  # "o seu" agrees with nothing
    assert agreement_errors(f"Escolhemos o {PRODUCT} para você.", "f")
    assert agreement_errors(f"Escolhemos a {PRODUCT} para você.", None)
    assert agreement_errors(f"Leve-a hoje: {PRODUCT}.", None)
    assert not agreement_errors(f"Escolhemos a {PRODUCT} para você.", "f")


@pytest.mark.parametrize(("name", "description", "gender"), SIMULATOR_PRODUCTS, ids=lambda v: str(v)[:30])
def test_every_simulator_product_gets_agreeing_copy(name, description, gender):
    seg = segment(name, description=description)
    copy = template_copy(seg)
    for text in copy_texts(copy):
        assert agreement_errors(placeholders(text, seg), gender) == [], text
    # The catalogue's nouns are known: the copy uses the article, not the genderless fallback.
    article = {"m": "o", "f": "a"}[gender]
    assert f"Escolhemos {article} {name} para você" in copy.email_copy


@pytest.mark.parametrize("name", ODD_NAMES)
def test_odd_crm_names_get_agreeing_or_genderless_copy(name):
    seg = segment(name)
    copy = template_copy(seg)
    shown = next(text for text in (copy.subject,) if text)
    printed = shown.removeprefix("Sugestão para você: ").rsplit(" por R$", 1)[0].rstrip("…")
    assert printed, shown
    for text in copy_texts(copy):
        marked = text.replace(printed, PRODUCT).replace(seg.last_category, CATEGORY)
        assert agreement_errors(marked, ODD_NAMES[name]) == [], text


def test_the_subject_names_the_product_and_differs_by_segment():
    subjects = set()
    for name, description, _ in SIMULATOR_PRODUCTS[:60]:
        copy = template_copy(segment(name, description=description))
        assert name in copy.subject
        assert "liftoff" not in copy.subject.lower()
        subjects.add(copy.subject)
    assert len(subjects) == 60
    long = template_copy(segment("Geladeira " + "Frost Free " * 20))
    assert long.subject.startswith("Sugestão para você: Geladeira Frost Free")
    assert len(long.subject) <= 120


# Phrases of invented urgency or scarcity, as a customer would read them.
URGENT = (
    "antes que acabe", "últimas unidades", "enquanto há estoque", "só hoje", "por tempo limitado",
    "corra", "não perca", "garanta o seu", "garanta já", "restam poucas", "última chance",
    "oferta relâmpago", "estoque limitado",
)  # fmt: skip


@pytest.mark.parametrize(
    ("name", "description"),
    [(n, d) for n, d, _ in SIMULATOR_PRODUCTS[::25]]
    + [("Tênis Corra Mais", "Últimas unidades! Corra antes que acabe."), ("Poltrona Ipê", None)],
)
def test_the_template_invents_no_urgency(name, description):
    seg = segment(name, description=description)
    copy = template_copy(seg)
    for text in copy_texts(copy):
        lowered = text.replace(name, "").lower()
        assert not [phrase for phrase in URGENT if phrase in lowered], text
    assert invented_urgency(copy, seg) is None


@pytest.mark.parametrize("phrase", URGENT)
def test_the_copy_check_rejects_invented_urgency(phrase):
    seg = segment("Poltrona Ipê 0001")
    answer = CampaignCopy(
        subject="Poltrona Ipê 0001 para você",
        email_copy=f"Uma poltrona que combina com a sua sala. {phrase.capitalize()}!",
        telegram_text="A poltrona que faltava na sua sala.",
    )
    assert invented_urgency(answer, seg) is not None


def test_the_copy_says_more_than_the_name():
    seg = segment(
        "Cama Box Boreal 0001",
        category="Móveis",
        description="Cama Box Boreal 0001: moderna, da marca Boreal (categoria Móveis).",
        price="2499.90",
    )
    copy = template_copy(seg)
    for text in (copy.email_copy, copy.telegram_text):
        assert "Móveis" in text  # the category, which is the last purchase's
        assert "R$ 2.499,90" in text
        assert "mais vendidos" in text or "campeões de vendas" in text
    assert "compra mais recente" in copy.email_copy  # why it fits the last purchase
    assert "da marca Boreal" in copy.telegram_text  # the catalogue's description (no card there)


def test_simulator_descriptions_agree_with_their_product():
    for name, description, gender in SIMULATOR_PRODUCTS:
        if description is None:
            continue
        assert description.startswith(f"{name}: ")
        adjective = description.removeprefix(f"{name}: ").split(",", 1)[0]
        masculine, feminine = {
            "compacto": ("compacto", "compacta"),
            "compacta": ("compacto", "compacta"),
            "moderno": ("moderno", "moderna"),
            "moderna": ("moderno", "moderna"),
            "econômico": ("econômico", "econômica"),
            "econômica": ("econômico", "econômica"),
        }.get(adjective, (adjective, adjective))
        assert adjective == (feminine if gender == "f" else masculine), description
        assert "liftoff" not in description.lower()


@pytest.mark.parametrize(
    ("host", "port", "conn_type", "schema", "expected"),
    [
        ("https://api.openai.com/v1", None, "generic", None, "https://api.openai.com/v1"),
        ("http://127.0.0.1:11434/v1", None, "generic", None, "http://127.0.0.1:11434/v1"),
        ("http://127.0.0.1/v1", 8000, "generic", None, "http://127.0.0.1:8000/v1"),
        ("127.0.0.1", 11434, "http", "v1", "http://127.0.0.1:11434/v1"),
        ("api.groq.com", None, "generic", "openai/v1", "https://api.groq.com/openai/v1"),
    ],
)
def test_the_llm_base_url_from_either_connection_form(host, port, conn_type, schema, expected):
    from liftoff.campaign.llm import base_url_of

    assert base_url_of(host, port, conn_type, schema) == expected
