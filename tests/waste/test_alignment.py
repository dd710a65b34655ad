"""The local model's label map and the knowledge base must agree: every label the model can answer
with has to land on a rule, or a confident photo would come back as "not sure"."""

from __future__ import annotations

from ecoeco.recycling.knowledge import get_knowledge_base
from ecoeco.vision.local import load_label_map
from ecoeco.waste.rules import taxonomy


def test_every_mapped_imagenet_class_fits_the_taxonomy() -> None:
    tax = taxonomy()
    strays = {
        i: (e.major, e.middle) for i, e in load_label_map().items() if tax.label(e.major, e.middle) is None
    }
    assert strays == {}


def test_every_mapped_item_hint_resolves_to_a_rule() -> None:
    kb = get_knowledge_base()
    unresolved = {
        index: (entry.middle or entry.major, entry.item)
        for index, entry in load_label_map().items()
        if kb.resolve(entry.middle or entry.major, entry.item) is None
    }
    assert unresolved == {}


def test_every_mapped_tag_is_a_knowledge_base_tag() -> None:
    kb = get_knowledge_base()
    unknown = {t for entry in load_label_map().values() for t in entry.tags if t not in kb.tags}
    assert unknown == set()
