"""A composed YAML document to its values and the positions of its fields, from one parse.

libyaml (PyYAML's C parser) composes each document into a tree of nodes that carry line and column
marks. PyYAML's constructor would build the values from it generator by generator and drop the
tree; positions then needed a second parse of the text. Here one recursive walk over the tree builds
the same values as PyYAML's safe constructor (without implicit timestamps: kubectl sees a date as
a string), notes the keys a mapping repeats, and the tree stays with the document until its
findings are located (`locate`). Values the walk does not build itself (tags other than the core
ones, merge keys `<<`, keys that are collections, a tree too deep to recurse into) are left to
PyYAML's constructor for that document, so values and errors stay exactly PyYAML's.

Tags are resolved here too, not by the composer: PyYAML calls its resolver for every node, which
costs more than parsing does in C. The loader (loading._loader_class) leaves each untagged node
its `implicit` flags as a deferred tag: (plain, quoted) for a scalar, a bool for a collection.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

STR = "tag:yaml.org,2002:str"
MAP = "tag:yaml.org,2002:map"
SEQ = "tag:yaml.org,2002:seq"
# the core scalar tags besides str, built by PyYAML's own functions (`0x1f`, `1_000`, `yes`, `.inf`...)
_SCALARS = {
    tag: SafeConstructor.yaml_constructors[tag]
    for tag in (
        "tag:yaml.org,2002:null",
        "tag:yaml.org,2002:bool",
        "tag:yaml.org,2002:int",
        "tag:yaml.org,2002:float",
    )
}

Duplicate = tuple[str, int, int]  # key, 1-based line and column of its repetition
# PyYAML's implicit resolvers by first character, without the timestamp one
RESOLVERS = {
    first: tuple((tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp")
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_PLAIN_TAGS: dict[str, str] = {}  # plain scalar -> tag: keys and values repeat across documents
_PLAIN_TAGS_MAX = 8192


def plain_tag(value: str) -> str:
    """The tag PyYAML resolves an untagged plain scalar to (`3` int, `yes` bool, `~` null...)."""
    tag = _PLAIN_TAGS.get(value)
    if tag is None:
        tag = next((t for t, regexp in RESOLVERS.get(value[:1], ()) if regexp.match(value)), STR)
        if len(_PLAIN_TAGS) < _PLAIN_TAGS_MAX:
            _PLAIN_TAGS[value] = tag
    return tag


def resolved(node: Node) -> str:
    """A node's tag, its deferred tag resolved as PyYAML's resolver would have."""
    tag = node.tag
    if isinstance(tag, tuple):
        return plain_tag(node.value) if tag[0] else STR
    if isinstance(tag, bool):
        return SEQ if isinstance(node, SequenceNode) else MAP
    return tag


class _Unusual(Exception):
    """A node the walk leaves to PyYAML's constructor."""


def build(root: Node, constructor: Any, duplicates: list[Duplicate]) -> Any:
    """The document's value; its repeated keys are appended to `duplicates` (in the constructor's
    fallback too, where `constructor.duplicates` collects them: see loading._loader_class)."""
    walk = _Walk(constructor)
    try:
        value = walk.value(root)
    except (_Unusual, RecursionError):
        return _construct(root, constructor, duplicates)
    duplicates.extend(walk.duplicates)
    return value


def _construct(root: Node, constructor: Any, duplicates: list[Duplicate]) -> Any:
    """PyYAML's constructor on the tree (tags resolved first), which it may change (merge keys are
    flattened in place): the mappings' pairs are put back so that `locate` sees the document as written."""
    every = _nodes(root)
    for node in every:
        node.tag = resolved(node)
    written = [(node, node.value) for node in every if isinstance(node, MappingNode)]
    constructor.duplicates = duplicates
    try:
        return constructor.construct_document(root)
    finally:
        for node, pairs in written:
            node.value = pairs


def _nodes(root: Node) -> list[Node]:
    """Every node of a tree once (an alias shares its anchor's node)."""
    found, stack, seen = [], [root], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        found.append(node)
        if isinstance(node, MappingNode):
            stack.extend(item for pair in node.value for item in pair)
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)
    return found


class _Walk:
    """One document's walk: values, repeated keys, and the collections already built (an alias
    gives the same object again, as PyYAML does)."""

    def __init__(self, constructor: Any) -> None:
        self.constructor = constructor
        self.duplicates: list[Duplicate] = []
        self.built: dict[int, Any] = {}

    def value(self, node: Node) -> Any:
        kind = node.__class__
        if kind is ScalarNode:
            return self.scalar(node)  # type: ignore[arg-type]  # the class just checked (no cast: hot path)
        done = self.built.get(id(node))
        if done is not None:
            return done
        tag = node.tag
        deferred = tag.__class__ is bool
        if kind is MappingNode and (deferred or tag == MAP):
            return self.mapping(node)  # type: ignore[arg-type]  # the class just checked
        if kind is SequenceNode and (deferred or tag == SEQ):
            out: list = []
            self.built[id(node)] = out
            for item in node.value:
                out.append(self.scalar(item) if item.__class__ is ScalarNode else self.value(item))
            return out
        raise _Unusual

    def scalar(self, node: ScalarNode) -> Any:
        tag = node.tag
        if tag.__class__ is tuple:
            value = node.value
            if not tag[0]:
                return value  # quoted, literal or folded: a string
            tag = _PLAIN_TAGS.get(value) or plain_tag(value)
            if tag is STR:
                return value
        elif tag == STR:
            return node.value
        make = _SCALARS.get(tag)
        if make is None:
            raise _Unusual
        try:
            return make(self.constructor, node)
        except (ValueError, KeyError):  # `!!int abc`: PyYAML fails without saying where
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {node.value!r} as {tag.rsplit(':', 1)[-1]}", node.start_mark
            ) from None

    def mapping(self, node: MappingNode) -> dict:
        out: dict = {}
        self.built[id(node)] = out
        texts_are_keys = True  # every key a string as written: a repeated key shows as a shorter dict
        for key_node, value_node in node.value:
            if key_node.__class__ is not ScalarNode:
                raise _Unusual
            key = self.scalar(key_node)
            if key.__class__ is not str:
                texts_are_keys = False
            out[key] = (
                self.scalar(value_node) if value_node.__class__ is ScalarNode else self.value(value_node)
            )
        if len(out) != len(node.value) or not texts_are_keys:
            self.duplicates.extend(repeated_keys(node))
        return out


def repeated_keys(node: MappingNode) -> list[Duplicate]:
    """The keys a mapping gives twice, as written (`1` and `'1'` are the same key to kubectl's YAML to
    JSON conversion); none when it merges another (`<<`), whose keys may be overridden."""
    keys = [k.value for k, _ in node.value if isinstance(k, ScalarNode)]
    if len(keys) == len(set(keys)) or "<<" in keys:
        return []
    found, seen = [], set()
    for key_node, _ in node.value:
        if isinstance(key_node, ScalarNode):
            if key_node.value in seen:
                mark = key_node.start_mark
                found.append((key_node.value, mark.line + 1, mark.column + 1))
            seen.add(key_node.value)
    return found


def locate(root: Node | None, path: tuple) -> tuple[int, int]:
    """Position (1-based) of the field's key (`replicas:`), of a list item, or of the deepest parent found."""
    if root is None:
        return 0, 0
    node: Node = root
    key_node: Node | None = None
    for part in path:
        nxt = None
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == part:
                    key_node, nxt = k, v
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            key_node, nxt = None, node.value[part]
        if nxt is None:
            break
        node = nxt
    target = key_node if key_node is not None else node
    return target.start_mark.line + 1, target.start_mark.column + 1
