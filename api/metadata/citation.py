"""Citations of one release: APA 7, BibTeX, RIS, CSL-JSON and CITATION.cff.

Every format cites the pinned release through the URL of its ``datapackage.json``, which always
returns the same bytes. The authors are the contributors with role author/creator, else the
publisher; APA, BibTeX, RIS and CSL-JSON name no author when neither is declared, and CFF (which
requires one) then credits the publisher, else the host of the service.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from api.errors import BadQuery, ParamError
from api.metadata.facts import Agent, PackageFacts, package_facts, publisher_or_host
from api.metadata.urls import Links
from api.metadata.vocab import NOT_SPECIFIED
from api.model import ReleaseInfo


@dataclass(frozen=True)
class Citation:
    """What every citation format is rendered from."""

    facts: PackageFacts
    url: str
    publisher: Agent
    key: str

    @property
    def year(self) -> int:
        """Year of the release."""
        return self.facts.released.year


@dataclass(frozen=True)
class CitationFormat:
    """One entry of the registry: a media type and a renderer."""

    name: str
    media_type: str
    render: Callable[[Citation], str]


def _licence(facts: PackageFacts) -> str:
    if facts.licence == NOT_SPECIFIED:
        return "not specified"
    return facts.licence.spdx or facts.licence.title


def _initials(given: str) -> str:
    parts = [p for p in re.split(r"[\s]+", given) if p]
    return " ".join("-".join(f"{piece[0]}." for piece in p.split("-") if piece) for p in parts)


def _apa_name(agent: Agent) -> str:
    if agent.family_name:
        initials = _initials(agent.given_name or "")
        return f"{agent.family_name}, {initials}" if initials else agent.family_name
    return agent.name


def _apa_authors(agents: tuple[Agent, ...]) -> str:
    names = [_apa_name(agent) for agent in agents]
    if len(names) > 20:
        return ", ".join(names[:19]) + ", . . . " + names[-1]
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + ", & " + names[-1]


def render_apa(cite: Citation, *, italics: str = "*") -> str:
    """APA 7 reference for a data set; the title is wrapped in `italics` (Markdown by default)."""
    facts = cite.facts
    work = f"{italics}{facts.title}{italics} (Version {facts.version}) [Data set]"
    authors = facts.authors
    # APA omits the publisher when it is (one of) the authors.
    named = {agent.name for agent in authors}
    publisher = "" if cite.publisher.name in named else f" {cite.publisher.name}."
    if not authors:
        return f"{work}. ({cite.year}).{publisher} {cite.url}"
    names = _apa_authors(authors)
    names = names if names.endswith(".") else names + "."
    return f"{names} ({cite.year}). {work}.{publisher} {cite.url}"


_LATEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def _tex(text: str) -> str:
    return "".join(_LATEX.get(char, char) for char in text)


def _bib_name(agent: Agent) -> str:
    if agent.family_name:
        given = f", {_tex(agent.given_name)}" if agent.given_name else ""
        return f"{_tex(agent.family_name)}{given}"
    return "{" + _tex(agent.name) + "}"  # a corporate name, kept whole


def render_bibtex(cite: Citation) -> str:
    """A BibTeX ``@misc`` entry (biblatex reads ``version``, ``date`` and ``url`` too)."""
    facts = cite.facts
    fields: list[tuple[str, str]] = []
    if facts.authors:
        fields.append(("author", " and ".join(_bib_name(a) for a in facts.authors)))
    fields += [
        ("title", "{" + _tex(facts.title) + "}"),
        ("year", str(cite.year)),
        ("date", facts.released.isoformat()),
        ("version", _tex(facts.version)),
        ("publisher", _tex(cite.publisher.name)),
        ("url", cite.url),
        ("howpublished", "\\url{" + cite.url + "}"),
        ("note", _tex(f"Data set. Licence: {_licence(facts)}")),
    ]
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@misc{{{cite.key},\n{body}\n}}\n"


def _ris_name(agent: Agent) -> str:
    if agent.family_name:
        return f"{agent.family_name}, {agent.given_name}" if agent.given_name else agent.family_name
    return agent.name


def _one_line(text: str) -> str:
    return " ".join(text.split())


def render_ris(cite: Citation) -> str:
    """An RIS record of type ``DATA`` (lines end with CR LF as the format specifies)."""
    facts = cite.facts
    lines = [("TY", "DATA")]
    lines += [("AU", _ris_name(agent)) for agent in facts.authors]
    lines += [
        ("TI", facts.title),
        ("PY", str(cite.year)),
        ("DA", facts.released.strftime("%Y/%m/%d")),
        ("ET", facts.version),
        ("PB", cite.publisher.name),
        ("UR", cite.url),
    ]
    lines += [("KW", keyword) for keyword in facts.keywords]
    lines.append(("N1", f"Licence: {_licence(facts)}"))
    records = [f"{tag}  - {_one_line(value)}" for tag, value in lines] + ["ER  - "]
    return "\r\n".join(records) + "\r\n"


def _csl_name(agent: Agent) -> dict[str, str]:
    if agent.family_name:
        name = {"family": agent.family_name}
        if agent.given_name:
            name["given"] = agent.given_name
        return name
    return {"literal": agent.name}


def render_csl_json(cite: Citation) -> str:
    """A CSL-JSON array holding one ``dataset`` item."""
    facts = cite.facts
    released = facts.released
    item: dict[str, object] = {
        "id": cite.key,
        "type": "dataset",
        "title": facts.title,
        "version": facts.version,
        "issued": {"date-parts": [[released.year, released.month, released.day]]},
        "publisher": cite.publisher.name,
        "URL": cite.url,
        "abstract": facts.description,
    }
    if facts.authors:
        item["author"] = [_csl_name(agent) for agent in facts.authors]
    if facts.keywords:
        item["keyword"] = ", ".join(facts.keywords)
    if facts.licence.spdx or facts.licence.url:
        item["license"] = facts.licence.spdx or facts.licence.url
    return json.dumps([item], ensure_ascii=False, indent=2) + "\n"


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def _cff_agent(agent: Agent, indent: str) -> list[str]:
    if agent.family_name:
        entries = [("family-names", agent.family_name)]
        if agent.given_name:
            entries.append(("given-names", agent.given_name))
        if agent.organization:
            entries.append(("affiliation", agent.organization))
    else:
        entries = [("name", agent.name)]
    if agent.email:
        entries.append(("email", agent.email))
    if agent.url and agent.url.lower().startswith(("http://", "https://")):
        entries.append(("website", agent.url))
    return [
        f"{indent}{'- ' if i == 0 else '  '}{key}: {_q(value)}"
        for i, (key, value) in enumerate(entries)
    ]


def render_cff(cite: Citation) -> str:
    """A ``CITATION.cff`` file (Citation File Format 1.2.0, ``type: dataset``)."""
    facts = cite.facts
    authors = facts.authors or (cite.publisher,)
    lines = [
        "cff-version: 1.2.0",
        f"message: {_q('If you use this dataset, please cite it using these metadata.')}",
        "type: dataset",
        f"title: {_q(facts.title)}",
        f"version: {_q(facts.version)}",
        f"date-released: {_q(facts.released.isoformat())}",
        f"url: {_q(cite.url)}",
    ]
    if facts.licence.spdx:
        lines.append(f"license: {_q(facts.licence.spdx)}")
    lines.append(f"abstract: {_q(facts.description)}")
    if facts.keywords:
        lines.append("keywords:")
        lines += [f"  - {_q(keyword)}" for keyword in facts.keywords]
    lines.append("authors:")
    for agent in authors:
        lines += _cff_agent(agent, "  ")
    if facts.contact is not None:
        lines.append("contact:")
        lines += _cff_agent(facts.contact, "  ")
    lines += [
        "identifiers:",
        "  - type: url",
        f"    value: {_q(cite.url)}",
        f"    description: {_q('The datapackage.json of this release')}",
    ]
    return "\n".join(lines) + "\n"


FORMATS: dict[str, CitationFormat] = {
    fmt.name: fmt
    for fmt in (
        CitationFormat("apa", "text/plain; charset=utf-8", render_apa),
        CitationFormat("bibtex", "application/x-bibtex; charset=utf-8", render_bibtex),
        CitationFormat("ris", "application/x-research-info-systems", render_ris),
        CitationFormat("csl-json", "application/vnd.citationstyles.csl+json", render_csl_json),
        CitationFormat("cff", "application/yaml", render_cff),
    )
}


def citation_for(release: ReleaseInfo, *, links: Links) -> Citation:
    """The facts a citation of `release` is rendered from."""
    facts = package_facts([release])
    return Citation(
        facts=facts,
        url=links.descriptor(release.package, release.version),
        publisher=publisher_or_host(facts, links=links),
        key=re.sub(r"[^A-Za-z0-9_.:-]", "-", f"{release.package}-{release.version}"),
    )


def citation_format(fmt: str) -> CitationFormat:
    """The registry entry for `fmt`, or a 400 listing the known formats."""
    found = FORMATS.get(fmt)
    if found is None:
        known = ", ".join(FORMATS)
        raise BadQuery(
            [
                ParamError(
                    "format",
                    "invalid-control",
                    f"unknown citation format {fmt!r}; expected one of {known}",
                )
            ]
        )
    return found


def plain_citation(release: ReleaseInfo, *, links: Links) -> str:
    """The APA reference as plain text (no Markdown emphasis): for pages and spreadsheets."""
    return render_apa(citation_for(release, links=links), italics="")


def render_citation(release: ReleaseInfo, fmt: str, *, links: Links) -> str:
    """Render a citation of `release` in `fmt` (one of `FORMATS`)."""
    return citation_format(fmt).render(citation_for(release, links=links))
