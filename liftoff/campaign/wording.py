"""Portuguese the template copy needs to stay grammatical: the gender of a product's noun.

A product name reaches the copy as CRM data ("Smart TV Aurora 0012", "Kit 3 meias"), so the
template cannot know whether to write "o" or "a" before it. This lexicon knows the head nouns of
the catalogue (every kind the CRM simulator sells) and of common retail products; the gender of
a name is the gender of its longest known leading noun phrase. A name that starts with anything
else has no known gender, and the template then phrases every sentence so that nothing agrees
with the product (no article, possessive or pronoun refers to it): never a wrong guess.
"""

from __future__ import annotations

import re

FEMININE, MASCULINE = "f", "m"

# Lower-case leading noun phrases → gender. Multi-word entries win over their first word
# ("smart tv" is feminine though "smart" is no noun; "rack para tv" is masculine).
_NOUNS: dict[str, str] = {
    **dict.fromkeys(
        (
            "smart tv", "tv", "televisão", "caixa de som", "caixa", "câmera digital", "câmera",
            "geladeira", "air fryer", "fritadeira", "máquina de lavar", "máquina", "lavadora",
            "cafeteira", "mesa de jantar", "mesa", "cadeira de escritório", "cadeira", "estante",
            "cama box", "cama", "escrivaninha", "poltrona", "camiseta", "calça jeans", "calça",
            "jaqueta", "camisa social", "camisa", "bermuda", "saia", "sandália", "bota",
            "sapatilha", "impressora", "panela", "frigideira", "luminária", "mochila", "bolsa",
            "mala", "capa", "caneca", "toalha", "blusa", "regata", "meia",
            "batedeira", "torradeira", "sanduicheira", "chaleira", "lava-louças", "adega",
            "cômoda", "penteadeira", "sapateira", "cristaleira", "bicicleta", "jaqueta jeans",
        ),
        FEMININE,
    ),
    **dict.fromkeys(
        (
            "smartphone", "celular", "notebook", "computador", "tablet", "fone bluetooth", "fone",
            "monitor", "smartwatch", "relógio", "console de videogame", "console", "videogame",
            "micro-ondas", "liquidificador", "aspirador de pó", "aspirador", "ventilador",
            "fogão", "ferro de passar", "ferro", "sofá", "guarda-roupa", "rack para tv", "rack",
            "criado-mudo", "vestido", "moletom", "blazer", "pijama", "tênis de corrida", "tênis",
            "tênis casual", "sapato social", "sapato", "chinelo", "mocassim", "coturno",
            "scarpin", "teclado", "mouse", "headset", "carregador", "cabo", "roteador", "livro",
            "kit", "conjunto", "jogo", "colchão", "travesseiro", "tapete", "armário", "banco",
            "boné", "casaco", "cinto", "short", "macacão", "forno", "freezer", "purificador",
            "secador", "barbeador", "projetor", "drone", "perfume", "tv box",
        ),
        MASCULINE,
    ),
}  # fmt: skip
_LONGEST = max(len(noun.split()) for noun in _NOUNS)
_WORD = re.compile(r"[\wÀ-ÿ-]+", re.UNICODE)


def noun_gender(product_name: str) -> str | None:
    """'f' or 'm' when the name starts with a noun of known gender, else None."""
    words = [word.lower() for word in _WORD.findall(product_name)]
    for size in range(min(_LONGEST, len(words)), 0, -1):
        gender = _NOUNS.get(" ".join(words[:size]))
        if gender is not None:
            return gender
    return None


def definite_article(gender: str | None) -> str | None:
    """The article a known gender takes before the name ('o' / 'a'), else None."""
    return {MASCULINE: "o", FEMININE: "a"}.get(gender or "")
