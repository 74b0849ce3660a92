"""Fields derived from what a contact told us, for rules: seniority from the title, region from the country.

Pure functions; the rules engine reads them as `seniority` and `region` like any other field.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

# Checked in order: the first level whose words appear (as whole words) in the title wins, so
# "Vice President" is vp (not executive) and "Managing Director" is executive (not director).
SENIORITY_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("vp", ("vice president", "vp", "svp", "evp", "avp")),
    ("executive", ("chief", "ceo", "cfo", "coo", "cto", "cio", "cpo", "cmo", "president", "founder",
                   "co-founder", "managing director", "geschäftsführer")),
    ("director", ("director", "head", "general manager")),
    ("manager", ("manager", "lead", "supervisor", "superintendent", "team leader")),
)
SENIORITY_LEVELS = ("executive", "vp", "director", "manager", "individual")
_PATTERNS = [(level, re.compile(r"(?<![a-z])(" + "|".join(re.escape(w) for w in words) + r")(?![a-z])"))
             for level, words in SENIORITY_WORDS]


def seniority_of(title: Any) -> str | None:
    """'VP Operations' → vp, 'Senior Controls Engineer' → individual, no title → None."""
    if not isinstance(title, str) or not title.strip():
        return None
    text = title.casefold()
    for level, pattern in _PATTERNS:
        if pattern.search(text):
            return level
    return "individual"


REGIONS: dict[str, frozenset[str]] = {
    "NA": frozenset("US CA".split()),
    "LATAM": frozenset("MX GT BZ SV HN NI CR PA CU DO HT JM PR TT BS BB CO VE EC PE BO CL AR UY PY BR GY SR".split()),
    "EMEA": frozenset((
        "GB IE FR DE AT CH BE NL LU DK SE NO FI IS IT ES PT PL CZ SK HU SI HR RO BG GR CY MT EE LV LT RS BA ME MK AL "
        "UA MD BY TR IL AE SA QA KW BH OM JO LB EG MA TN DZ ZA NG KE GH ET TZ UG RW SN CI CM AO ZM ZW BW NA MU LI MC "
        "AD SM VA GE AM AZ IQ IR").split()),
    "APAC": frozenset((
        "JP CN KR TW HK MO SG MY TH VN PH ID IN PK BD LK NP AU NZ KH LA MM BN MN FJ PG KZ UZ").split()),
}
REGION_NAMES = tuple(REGIONS)


def region_of(country: Any) -> str | None:
    """The sales region of an ISO country code: NA, LATAM, EMEA or APAC (None when unknown)."""
    if not isinstance(country, str):
        return None
    code = country.strip().upper()
    return next((region for region, codes in REGIONS.items() if code in codes), None)


DERIVED = {"seniority": lambda f: seniority_of(f.get("title")), "region": lambda f: region_of(f.get("country"))}


def derived(name: str, fields: Mapping[str, Any]) -> Any:
    return DERIVED[name](fields)
