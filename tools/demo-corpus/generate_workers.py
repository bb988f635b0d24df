#!/usr/bin/env python3
"""Generate the lakehost demo corpus: 200 synthetic staffing worker profiles.

Output: data/demo/workers.jsonl (one JSON object per line):

    {"id": "w0001", "text": "...",
     "metadata": {"role": "...", "city": "...", "certifications": [...],
                  "shift": "...", "years": N}}

Deterministic: uses only the Python 3 standard library and a single
random.Random seeded with SEED, so re-running reproduces the file byte for
byte. All people described are fictional; the profiles contain no names.

Usage (from the repository root):

    python3 tools/demo-corpus/generate_workers.py            # write + verify
    python3 tools/demo-corpus/generate_workers.py --check    # verify only
    python3 tools/demo-corpus/generate_workers.py --out PATH # other output
"""

import argparse
import collections
import json
import random
import re
import sys
from pathlib import Path

SEED = 20240611
TOTAL = 200

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO_ROOT / "data" / "demo" / "workers.jsonl"

# The six roles of the load mix. Each must have >= 22 workers and the exact
# role name must appear in >= 80% of that role's profile texts.
LOAD_MIX_ROLES = [
    "Forklift Operator",
    "CNC Operator",
    "Warehouse Associate",
    "Order Picker",
    "Loader",
    "Shipping Clerk",
]

# Fixed per-role head counts (sum must be TOTAL).
ROLE_COUNTS = [
    ("Forklift Operator", 26),
    ("Warehouse Associate", 26),
    ("Order Picker", 24),
    ("Loader", 23),
    ("CNC Operator", 22),
    ("Shipping Clerk", 22),
    ("Machine Operator", 7),
    ("Material Handler", 7),
    ("Assembler", 6),
    ("Packer", 6),
    ("Quality Inspector", 6),
    ("Maintenance Technician", 5),
    ("Welder", 5),
    ("Inventory Clerk", 5),
    ("Receiving Clerk", 5),
    ("Production Supervisor", 5),
]

# Fraction of a role's profiles that use only a synonym ("forklift driver")
# instead of the exact role name.
ALT_TITLE_FRACTION = 0.12

CITIES = [
    "Columbus, OH",
    "Memphis, TN",
    "Louisville, KY",
    "Indianapolis, IN",
    "Dallas, TX",
    "Reno, NV",
    "Allentown, PA",
    "Savannah, GA",
    "Chicago, IL",
    "Ontario, CA",
    "Joliet, IL",
    "Grand Rapids, MI",
]

SHIFTS = ["1st", "2nd", "3rd", "weekend", "flexible"]
SHIFT_WEIGHTS = [30, 25, 18, 10, 17]

# Canonical certification names, in the order they are listed in metadata and
# text. The exact string appears verbatim in the profile text.
CERT_ORDER = [
    "OSHA Forklift Certification",
    "Reach Truck Certification",
    "OSHA 10",
    "OSHA 30",
    "NCCER Core",
    "AWS D1.1",
    "NIMS Machining Level I",
    "Certified Production Technician (CPT)",
    "Certified Logistics Associate (CLA)",
    "ASQ Certified Quality Inspector",
    "IPC-A-610",
    "NFPA 70E",
    "EPA 608",
    "Six Sigma Yellow Belt",
    "Six Sigma Green Belt",
    "Hazmat",
    "TWIC Card",
    "CDL Class A",
    "ServSafe",
    "CPR/First Aid",
]

# Certifications the corpus must contain at least once.
REQUIRED_CERTS = [
    "OSHA Forklift Certification", "OSHA 10", "OSHA 30", "NCCER Core", "AWS D1.1",
    "ServSafe", "CPR/First Aid", "Hazmat", "TWIC Card", "Six Sigma Yellow Belt",
    "CDL Class A",
]

# Small chance that any worker carries these regardless of role.
GENERIC_CERTS = [("CPR/First Aid", 0.07), ("OSHA 10", 0.07)]

ROLES = {
    "Forklift Operator": {
        "alts": ["forklift driver", "lift truck operator", "reach truck and forklift driver"],
        "field": "warehouse",
        "training": "a forklift safety course through a local workforce program",
        "settings": [
            "high-volume distribution centers", "cold-storage warehouses",
            "3PL warehouses", "cross-dock operations",
            "e-commerce fulfillment centers", "a beverage distribution warehouse",
            "building-supply yards", "automotive parts warehouses",
        ],
        "skills": [
            "sit-down and stand-up forklifts", "reach trucks in narrow-aisle racking",
            "electric pallet jacks", "loading and unloading trailers at the dock",
            "pallet replenishment to pick faces", "clamp and side-shift attachments",
            "daily pre-shift forklift inspections", "double-deep and drive-in racking",
            "RF scanner putaway", "propane tank changes and battery swaps",
            "Crown and Raymond equipment", "Hyster and Toyota sit-down lifts",
            "turret trucks at height",
        ],
        "notes": [
            "Clean safety record with no forklift incidents on file.",
            "Has trained new drivers on pre-shift walkarounds.",
            "Leads praise careful load handling and steady productivity during peak.",
            "Comfortable working in freezer and cooler environments.",
            "Can also cover the dock when trailers back up.",
            "Very accurate with location scans and rarely mis-slots a pallet.",
        ],
        "certs": [
            ("OSHA Forklift Certification", 0.9), ("Reach Truck Certification", 0.3),
            ("OSHA 10", 0.25), ("Hazmat", 0.08), ("CPR/First Aid", 0.08),
            ("Certified Logistics Associate (CLA)", 0.1),
        ],
        "years": (0, 25),
    },
    "CNC Operator": {
        "alts": ["CNC machinist", "CNC setup operator", "CNC mill and lathe operator"],
        "field": "machining",
        "training": "a community-college CNC machining program",
        "settings": [
            "job shops", "automotive parts plants", "aerospace machining shops",
            "medical device manufacturing", "precision machining cells",
            "a high-mix, low-volume contract shop",
            "production machining for ag equipment",
        ],
        "skills": [
            "Haas and Fanuc controls", "Mazak and Okuma lathes", "lathe and mill setups",
            "basic G-code edits and offsets", "reading blueprints and GD&T",
            "calipers, micrometers, and bore gauges", "first-article inspection",
            "tool changes and work offsets", "running 3-axis and 4-axis mills",
            "bar-fed CNC lathes", "SPC charting at the machine",
            "deburring and part finishing", "holding tight tolerances on aluminum and steel",
        ],
        "notes": [
            "Can run multiple machines at once and keeps scrap low.",
            "Comfortable proving out new programs alongside a lead machinist.",
            "Documents every offset change and keeps a clean setup sheet.",
            "Interested in moving toward full setup and programming work.",
            "Keeps a neat work cell and follows lockout/tagout procedures.",
        ],
        "certs": [
            ("NIMS Machining Level I", 0.35), ("OSHA 10", 0.25),
            ("Six Sigma Yellow Belt", 0.12),
            ("Certified Production Technician (CPT)", 0.1),
        ],
        "years": (0, 25),
    },
    "Warehouse Associate": {
        "alts": ["general warehouse worker", "warehouse team member", "warehouse worker"],
        "field": "warehouse",
        "training": "a warehouse readiness course at the local career center",
        "settings": [
            "e-commerce fulfillment centers", "retail distribution centers",
            "3PL warehouses", "grocery distribution", "a furniture warehouse",
            "apparel fulfillment", "a parcel sortation hub",
        ],
        "skills": [
            "putaway", "cycle counts", "general labor",
            "receiving and unloading inbound freight", "pallet jack work",
            "RF scanner picking and packing", "shrink-wrapping and labeling pallets",
            "returns processing", "restocking and replenishment",
            "keeping aisles clean and organized", "kitting and light assembly",
            "sorting parcels on conveyor lines", "lifting up to 50 lbs all shift",
        ],
        "notes": [
            "Reliable attendance and willing to jump into any department.",
            "Picks up new WMS screens quickly.",
            "Supervisors note a strong work ethic and a positive attitude.",
            "Comfortable standing and walking for a full shift.",
            "Cross-trained on receiving and outbound.",
        ],
        "certs": [
            ("OSHA Forklift Certification", 0.3), ("OSHA 10", 0.2),
            ("Certified Logistics Associate (CLA)", 0.15), ("ServSafe", 0.05),
            ("Hazmat", 0.05), ("CPR/First Aid", 0.08),
        ],
        "years": (0, 25),
    },
    "Order Picker": {
        "alts": ["order selector", "warehouse order selector", "each-pick selector"],
        "field": "warehouse",
        "training": "a warehouse readiness course at the local career center",
        "settings": [
            "grocery distribution centers", "e-commerce fulfillment centers",
            "a pharmaceutical distribution center", "an auto parts DC",
            "big-box retail DCs", "a frozen-foods warehouse",
        ],
        "skills": [
            "RF scanner picking", "pick-to-light and put-wall systems", "voice picking",
            "case picking onto pallets", "each picking for e-commerce orders",
            "building stable mixed pallets", "electric pallet jacks",
            "order picker trucks at height", "hitting pick-rate targets",
            "checking orders for accuracy", "batch and zone picking",
            "labeling and staging outbound orders",
        ],
        "notes": [
            "Consistently at or above rate with high pick accuracy.",
            "Comfortable working in freezer and cooler environments.",
            "Has trained new selectors on the voice system.",
            "Known for building tight, stable pallets that ship without damage.",
            "Keeps a steady pace through peak season without sacrificing accuracy.",
        ],
        "certs": [
            ("OSHA Forklift Certification", 0.35), ("OSHA 10", 0.15),
            ("Certified Logistics Associate (CLA)", 0.1),
        ],
        "years": (0, 25),
    },
    "Loader": {
        "alts": ["trailer loader", "dock loader", "freight loader"],
        "field": "warehouse",
        "training": "a dock safety orientation through a staffing partner",
        "settings": [
            "parcel hubs", "LTL freight terminals", "cross-dock operations",
            "a beverage distribution center", "retail distribution centers",
            "a furniture plant's shipping department",
        ],
        "skills": [
            "trailer loading and unloading", "floor-loaded freight",
            "building tight, damage-free loads", "dock plates and levelers",
            "pallet jacks and hand trucks", "strapping and load bars",
            "reading load plans", "parcel sorting and trailer staging",
            "heavy lifting up to 70 lbs", "checking seals and trailer condition",
            "unloading floor-loaded containers",
        ],
        "notes": [
            "Works fast on the dock without cutting corners on safety.",
            "Can unload a floor-loaded container quickly with one helper.",
            "Used to outdoor and non-climate-controlled dock conditions.",
            "Team player who helps keep doors turning on time.",
        ],
        "certs": [
            ("CDL Class A", 0.25), ("OSHA 10", 0.2),
            ("OSHA Forklift Certification", 0.25), ("TWIC Card", 0.2),
            ("Hazmat", 0.12),
        ],
        "years": (0, 25),
    },
    "Shipping Clerk": {
        "alts": ["shipping coordinator", "outbound clerk", "traffic clerk"],
        "field": "shipping",
        "training": "an office skills and logistics certificate course",
        "settings": [
            "manufacturing plants", "a 3PL warehouse",
            "an industrial supply warehouse", "e-commerce operations",
            "a food manufacturing plant", "an electronics distribution center",
        ],
        "skills": [
            "bills of lading", "UPS WorldShip", "FedEx Ship Manager",
            "scheduling carrier pickups", "LTL and truckload freight quotes",
            "packing slips and commercial invoices", "SAP and NetSuite shipping screens",
            "weighing and dimensioning parcels",
            "tracking shipments and resolving carrier exceptions",
            "Excel shipping logs", "auditing outbound orders before they leave the dock",
        ],
        "notes": [
            "Detail-oriented and comfortable on the phone with carriers.",
            "Keeps the outbound schedule organized and on time.",
            "Types quickly and keeps clean, complete paperwork.",
            "Has run the shipping desk alone on busy days.",
        ],
        "certs": [
            ("Hazmat", 0.3), ("OSHA 10", 0.12), ("OSHA Forklift Certification", 0.15),
            ("Six Sigma Yellow Belt", 0.1), ("TWIC Card", 0.1),
            ("Certified Logistics Associate (CLA)", 0.15),
        ],
        "years": (0, 25),
    },
    "Machine Operator": {
        "alts": ["production machine operator", "press operator", "machine tender"],
        "field": "manufacturing",
        "training": "a manufacturing basics course at the community college",
        "settings": [
            "plastics injection molding plants", "metal stamping plants",
            "packaging lines", "a corrugated box plant", "food processing plants",
            "automotive component plants",
        ],
        "skills": [
            "injection molding machines", "stamping presses",
            "running and monitoring production lines", "minor changeovers and adjustments",
            "visual part inspection", "recording production counts",
            "clearing jams safely", "lockout/tagout", "reading work orders",
            "keeping scrap rates low",
        ],
        "notes": [
            "Steady operator who catches problems before they become downtime.",
            "Comfortable with repetitive work and fast cycle times.",
            "Good at communicating issues to maintenance and the line lead.",
        ],
        "certs": [
            ("OSHA 10", 0.3), ("Certified Production Technician (CPT)", 0.15),
            ("Six Sigma Yellow Belt", 0.1), ("OSHA Forklift Certification", 0.15),
        ],
        "years": (0, 25),
    },
    "Assembler": {
        "alts": ["production assembler", "electro-mechanical assembler", "line assembler"],
        "field": "manufacturing",
        "training": "a manufacturing basics course at the community college",
        "settings": [
            "electronics assembly", "HVAC equipment manufacturing", "appliance plants",
            "automotive seating lines", "a furniture factory", "medical device assembly",
        ],
        "skills": [
            "hand and power tools", "torque wrenches and drivers",
            "reading assembly drawings", "soldering and wire harnesses",
            "working to takt time on a moving line", "fastening and sub-assembly",
            "visual quality checks", "small-parts assembly under magnification",
            "pneumatic tools",
        ],
        "notes": [
            "Good hand-eye coordination and patience with fine work.",
            "Rarely has rework come back from final inspection.",
            "Learns new builds quickly from work instructions.",
        ],
        "certs": [
            ("IPC-A-610", 0.25), ("OSHA 10", 0.2), ("Six Sigma Yellow Belt", 0.1),
        ],
        "years": (0, 25),
    },
    "Quality Inspector": {
        "alts": ["QC inspector", "quality control inspector", "quality technician"],
        "field": "quality",
        "training": "a metrology course at the community college",
        "settings": [
            "automotive supplier plants", "aerospace machining", "food manufacturing",
            "plastics molding", "metal fabrication shops",
        ],
        "skills": [
            "calipers, micrometers, and height gauges", "CMM reports",
            "first-article and in-process inspection", "reading blueprints and GD&T",
            "SPC charts", "nonconformance reports", "PPAP documentation",
            "ISO 9001 procedures", "visual and dimensional checks",
            "root-cause investigations",
        ],
        "notes": [
            "Thorough and comfortable pushing back when parts are out of spec.",
            "Writes clear, well-documented inspection reports.",
            "Has supported customer and registrar audits.",
        ],
        "certs": [
            ("ASQ Certified Quality Inspector", 0.35), ("Six Sigma Yellow Belt", 0.25),
            ("Six Sigma Green Belt", 0.15), ("OSHA 10", 0.15), ("IPC-A-610", 0.1),
        ],
        "years": (1, 25),
    },
    "Maintenance Technician": {
        "alts": ["industrial maintenance tech", "maintenance mechanic",
                 "plant maintenance technician"],
        "field": "maintenance",
        "training": "an industrial maintenance program",
        "settings": [
            "distribution centers", "food processing plants", "automotive plants",
            "packaging facilities", "a steel service center",
        ],
        "skills": [
            "PLC troubleshooting", "conveyor repair", "hydraulics and pneumatics",
            "3-phase electrical", "preventive maintenance programs",
            "welding and fabrication repairs", "motor and gearbox replacement",
            "reading electrical schematics", "lockout/tagout",
            "dock door and leveler repairs", "CMMS work orders",
        ],
        "notes": [
            "Good at diagnosing intermittent faults under pressure.",
            "Owns a full set of hand tools and meters.",
            "Comfortable being on call for breakdowns.",
        ],
        "certs": [
            ("OSHA 30", 0.3), ("OSHA 10", 0.3), ("NFPA 70E", 0.3), ("EPA 608", 0.2),
            ("NCCER Core", 0.3), ("CPR/First Aid", 0.15),
        ],
        "years": (1, 25),
    },
    "Welder": {
        "alts": ["MIG and TIG welder", "structural welder", "welder-fabricator"],
        "field": "welding",
        "training": "a welding program at the technical college",
        "settings": [
            "structural steel shops", "trailer manufacturing",
            "heavy equipment fabrication", "a pipe fabrication shop", "ag equipment plants",
        ],
        "skills": [
            "MIG and flux-core welding", "TIG on stainless and aluminum",
            "stick welding on structural steel", "reading weld symbols and blueprints",
            "plasma and oxy-fuel cutting", "fit-up and tacking", "grinding and finishing",
            "overhead and vertical welds", "robotic weld cell tending",
        ],
        "notes": [
            "Clean, consistent beads and passes visual inspection reliably.",
            "Brings own hood and gloves.",
            "Comfortable with fit-up from drawings without close supervision.",
        ],
        "certs": [
            ("AWS D1.1", 0.8), ("NCCER Core", 0.4), ("OSHA 10", 0.25), ("OSHA 30", 0.1),
        ],
        "years": (1, 25),
    },
    "Packer": {
        "alts": ["production packer", "line packer", "packing associate"],
        "field": "packaging",
        "training": "an on-site GMP orientation",
        "settings": [
            "food production plants", "e-commerce fulfillment centers",
            "a cosmetics contract packager", "produce packing houses",
            "pharmaceutical packaging",
        ],
        "skills": [
            "packing to spec", "case erectors and tape machines",
            "labeling and date coding", "palletizing finished goods",
            "GMP and food safety rules", "checking counts and weights",
            "kitting and gift sets", "keeping pace on fast lines",
        ],
        "notes": [
            "Fast, careful hands and a good eye for damaged product.",
            "Comfortable in cold, wet food-plant environments.",
            "Follows hairnet and gowning rules without reminders.",
        ],
        "certs": [
            ("ServSafe", 0.5), ("OSHA 10", 0.15), ("OSHA Forklift Certification", 0.1),
            ("CPR/First Aid", 0.1),
        ],
        "years": (0, 25),
    },
    "Inventory Clerk": {
        "alts": ["inventory control clerk", "inventory specialist", "stock clerk"],
        "field": "inventory",
        "training": "an office skills and logistics certificate course",
        "settings": [
            "distribution centers", "a parts warehouse", "retail DCs",
            "a manufacturing stockroom", "a hospital supply warehouse",
        ],
        "skills": [
            "cycle counting", "WMS transactions", "reconciling inventory variances",
            "Excel", "SAP MM", "bin location audits", "physical inventory",
            "RF scanners", "stockroom organization", "issuing parts to production",
        ],
        "notes": [
            "Meticulous with numbers and quick to find the root of a variance.",
            "Comfortable presenting count results to managers.",
            "Keeps locations labeled and accurate.",
        ],
        "certs": [
            ("OSHA Forklift Certification", 0.25),
            ("Certified Logistics Associate (CLA)", 0.25),
            ("Six Sigma Yellow Belt", 0.15), ("OSHA 10", 0.1),
        ],
        "years": (0, 25),
    },
    "Receiving Clerk": {
        "alts": ["receiving associate", "inbound clerk", "receiving coordinator"],
        "field": "warehouse",
        "training": "an office skills and logistics certificate course",
        "settings": [
            "distribution centers", "a grocery DC", "a manufacturing plant",
            "a 3PL warehouse", "a port-adjacent warehouse",
        ],
        "skills": [
            "checking inbound freight against POs", "packing lists and ASNs",
            "damage and shortage claims", "receiving in the WMS",
            "scheduling inbound appointments", "unloading with pallet jacks",
            "labeling and staging for putaway", "carrier paperwork",
        ],
        "notes": [
            "Catches overages, shortages, and damage before anything is signed.",
            "Keeps inbound appointments organized and doors moving.",
            "Comfortable working directly with vendors and drivers.",
        ],
        "certs": [
            ("OSHA Forklift Certification", 0.3), ("Hazmat", 0.15), ("TWIC Card", 0.2),
            ("OSHA 10", 0.15), ("Certified Logistics Associate (CLA)", 0.1),
        ],
        "years": (0, 25),
    },
    "Material Handler": {
        "alts": ["line feeder", "materials handler", "material mover"],
        "field": "manufacturing",
        "training": "a forklift safety course through a local workforce program",
        "settings": [
            "automotive assembly plants", "manufacturing plants", "a tire plant",
            "an appliance factory", "a distribution center",
        ],
        "skills": [
            "feeding parts to the production line", "operating tuggers",
            "moving raw materials by forklift", "kanban replenishment",
            "staging components", "pallet jacks", "removing finished goods",
            "scrap and recycling runs", "RF scanning transfers",
        ],
        "notes": [
            "Keeps lines stocked so operators never wait on parts.",
            "Knows plant traffic rules and pedestrian walkways well.",
            "Comfortable in a fast, loud production environment.",
        ],
        "certs": [
            ("OSHA Forklift Certification", 0.6), ("OSHA 10", 0.2), ("Hazmat", 0.1),
        ],
        "years": (0, 25),
    },
    "Production Supervisor": {
        "alts": ["shift supervisor", "production lead", "manufacturing supervisor"],
        "field": "manufacturing",
        "training": "",
        "settings": [
            "food manufacturing plants", "automotive supplier plants",
            "packaging operations", "a plastics plant", "consumer goods manufacturing",
        ],
        "skills": [
            "leading crews of 15 to 40 operators", "daily production meetings",
            "scheduling and labor planning", "5S and lean practices", "safety audits",
            "KPI tracking for output and scrap", "coaching and performance reviews",
            "ERP systems", "continuous improvement projects",
        ],
        "notes": [
            "Calm under pressure and respected by hourly associates.",
            "Has cut changeover times through lean projects.",
            "Strong communicator with maintenance, quality, and scheduling.",
        ],
        "certs": [
            ("OSHA 30", 0.45), ("Six Sigma Yellow Belt", 0.3),
            ("Six Sigma Green Belt", 0.3), ("OSHA 10", 0.2),
            ("CPR/First Aid", 0.25),
        ],
        "years": (5, 25),
    },
}

# ---------------------------------------------------------------------------
# Phrase banks (role-independent)
# ---------------------------------------------------------------------------

ADJ_JUNIOR = ["Reliable", "Motivated", "Hard-working", "Eager"]
ADJ_MID = ["Dependable", "Solid", "Experienced", "Steady"]
ADJ_SENIOR = ["Seasoned", "Veteran", "Highly experienced", "Long-tenured"]

# (template, mentions_city)
OPENERS = [
    ("{Title} with {Y} in {setting}.", False),
    ("{Title} with {Y} of experience in {setting}, based in {city}.", True),
    ("{Adj} {title} with {Y} in {setting}.", False),
    ("{Y} as {a_title}, mostly in {setting}.", False),
    ("{Title} in {city} with {Y} working in {setting}.", True),
    ("Has worked {Y} as {a_title} in {setting}.", False),
    ("{Adj} {title} from {city}; {Y} in {setting}.", True),
    ("Brings {Y} as {a_title} in {setting}.", False),
    ("{Title}, {Y}, currently living in {city}.", True),
    ("{Title} ({Y}) with a background in {setting}.", False),
]

# Opener that already carries the skills (yields shorter profiles).
OPENERS_WITH_SKILLS = [
    ("{Title} with {Y} in {setting}, skilled in {s1} and {s2}.", False),
    ("{Adj} {title} with {Y} on the job, comfortable with {s1}, {s2}, and {s3}.", False),
    ("{Title} based in {city} with {Y} of experience; strongest with {s1} and {s2}.", True),
]

OPENERS_ZERO = [
    ("Entry-level {title} with no prior {field} experience, eager to learn.", False),
    ("Entry-level {title} candidate in {city}; no prior {field} experience but "
     "completed {training}.", True),
    ("New to the field: {title} candidate with no prior {field} experience who "
     "recently completed {training}.", False),
    ("{Title} trainee with no prior paid {field} experience; completed {training}.", False),
]
OPENERS_ZERO_NO_TRAINING = [
    ("Entry-level {title} with no prior {field} experience, eager to learn.", False),
]

SKILL_TEMPLATES = [
    "Comfortable with {s1} and {s2}.",
    "Skilled in {s1}, {s2}, and {s3}.",
    "Hands-on with {s1} and {s2}.",
    "Experience covers {s1}, {s2}, and {s3}.",
    "Day-to-day work has included {s1} and {s2}.",
    "Work history includes {s1} as well as {s2}.",
    "Proficient with {s1}; also experienced with {s2}.",
    "Well versed in {s1}, {s2}, and {s3}.",
    "Strongest areas: {s1}, {s2}, and {s3}.",
]
SKILL_TEMPLATES_NEW = [
    "Learned {s1} and {s2} during training.",
    "Has basic exposure to {s1} and {s2} from coursework.",
    "Practiced {s1} and {s2} in a training lab setting.",
]

CERT_TEMPLATES = [
    "Holds {certs}.",
    "Certifications: {certs}.",
    "Current certifications include {certs}.",
    "Has {certs} on file.",
    "Certified: {certs}.",
]
NO_CERT_TEMPLATES = [
    "No formal certifications yet, but willing to complete safety training on site.",
    "No certifications on file.",
]
# Certs and shift in one sentence (no city).
CERT_SHIFT_TEMPLATES = [
    "Holds {certs} and {clause}.",
    "Has {certs} on file and {clause}.",
    "Certified in {certs}; {bare}.",
]

# Shift clauses. "is ..." forms lose the "is " when used without a subject.
SHIFT_CLAUSES = {
    "1st": ["prefers 1st shift", "wants 1st shift (days)",
            "is looking for steady 1st shift hours", "is available for 1st shift"],
    "2nd": ["prefers 2nd shift", "wants 2nd shift (swing)",
            "is looking for 2nd shift hours", "is available for 2nd shift"],
    "3rd": ["prefers 3rd shift", "wants 3rd shift (overnights)",
            "is looking for 3rd shift work", "is available for 3rd shift"],
    "weekend": ["prefers weekend shifts", "wants weekend-only shifts",
                "is looking for weekend work", "is available for weekend shifts"],
    "flexible": ["is flexible on shift", "is open to any shift",
                 "will work any shift, including rotating schedules",
                 "is flexible across days and nights"],
}
SHIFT_CITY_TEMPLATES = [
    "Based in {city} and {clause}.",
    "Lives in {city} and {clause}.",
    "Local to {city}; {bare}.",
    "Commutes from {city} and {clause}.",
]
# Certs, city and shift in one sentence.
CERT_SHIFT_CITY_TEMPLATES = [
    "Holds {certs}, lives in {city}, and {clause}.",
    "Based in {city} with {certs} on file; {bare}.",
    "Lives in {city}, holds {certs}, and {clause}.",
]

CERT_NOTES = {
    "CDL Class A": "Can also shuttle trailers in the yard and cover local runs.",
    "TWIC Card": "Cleared for port and terminal work.",
    "Hazmat": "Knows placarding and paperwork rules for Hazmat shipments.",
    "AWS D1.1": "Has passed AWS D1.1 bend tests on 3/8-inch plate.",
}

LANGUAGE_NOTES = [
    ("Bilingual English/Spanish.", 10),
    ("Bilingual English/Spanish; can help translate safety briefings.", 4),
    ("Speaks English and Vietnamese.", 1),
    ("Speaks English and Haitian Creole.", 1),
    ("Speaks English and Somali.", 1),
    ("Speaks English and Polish.", 1),
    ("Conversational Spanish.", 2),
]

AVAILABILITY_NOTES = [
    "Available to start immediately.",
    "Available to start with two weeks' notice.",
    "Open to overtime during peak season.",
    "Has reliable transportation and a clean attendance record.",
    "Passed background check and drug screen.",
    "Interested in temp-to-hire.",
    "Looking for a long-term assignment.",
]


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def cap(s):
    return s[0].upper() + s[1:] if s else s


def article(word):
    return "an" if word[0].lower() in "aeiou" else "a"


def join_list(items):
    if len(items) == 1:
        return items[0]
    if len(items) == 2:
        return f"{items[0]} and {items[1]}"
    return ", ".join(items[:-1]) + f", and {items[-1]}"


def years_phrase(n):
    return f"{n} year" if n == 1 else f"{n} years"


def pick_years(rng, lo, hi):
    # Skew towards early/mid career, like a real staffing bench.
    bucket = rng.choices(["zero", "junior", "mid", "senior"], weights=[6, 30, 35, 29])[0]
    ranges = {"zero": (0, 0), "junior": (1, 3), "mid": (4, 9), "senior": (10, 25)}
    blo, bhi = ranges[bucket]
    blo, bhi = max(blo, lo), min(bhi, hi)
    if blo > bhi:
        return rng.randint(lo, hi)
    return rng.randint(blo, bhi)


def pick_certs(rng, spec):
    chosen = set()
    for name, p in spec["certs"]:
        if rng.random() < p:
            chosen.add(name)
    for name, p in GENERIC_CERTS:
        if rng.random() < p:
            chosen.add(name)
    # OSHA 30 supersedes OSHA 10; one Six Sigma belt at most.
    if "OSHA 30" in chosen:
        chosen.discard("OSHA 10")
    if "Six Sigma Green Belt" in chosen:
        chosen.discard("Six Sigma Yellow Belt")
    # Reach truck card only alongside the base forklift certification.
    if "Reach Truck Certification" in chosen:
        chosen.add("OSHA Forklift Certification")
    return [c for c in CERT_ORDER if c in chosen]


def adjective(rng, years):
    if years <= 3:
        return rng.choice(ADJ_JUNIOR)
    if years <= 9:
        return rng.choice(ADJ_MID)
    return rng.choice(ADJ_SENIOR)


def shift_sentence_parts(rng, shift):
    clause = rng.choice(SHIFT_CLAUSES[shift])
    bare = clause[3:] if clause.startswith("is ") else clause
    return clause, bare


def make_profile(rng, role, use_exact_title):
    spec = ROLES[role]
    title = role if use_exact_title else rng.choice(spec["alts"])
    city = rng.choice(CITIES)
    shift = rng.choices(SHIFTS, weights=SHIFT_WEIGHTS)[0]
    lo, hi = spec["years"]
    years = pick_years(rng, lo, hi)
    certs = pick_certs(rng, spec)
    skills = rng.sample(spec["skills"], 3)

    fmt = {
        "title": title, "Title": cap(title), "a_title": f"{article(title)} {title}",
        "Y": years_phrase(years), "setting": rng.choice(spec["settings"]),
        "city": city, "Adj": adjective(rng, years), "field": spec["field"],
        "training": spec["training"], "s1": skills[0], "s2": skills[1], "s3": skills[2],
    }

    sentences = []
    # 1. Opener (role + years, maybe city, maybe skills).
    skills_in_opener = False
    if years == 0:
        pool = OPENERS_ZERO if spec["training"] else OPENERS_ZERO_NO_TRAINING
        tmpl, city_done = rng.choice(pool)
    elif rng.random() < 0.25:
        tmpl, city_done = rng.choice(OPENERS_WITH_SKILLS)
        skills_in_opener = True
    else:
        tmpl, city_done = rng.choice(OPENERS)
    sentences.append(cap(tmpl.format(**fmt)))

    # 2. Skills.
    if not skills_in_opener:
        pool = SKILL_TEMPLATES_NEW if years == 0 else SKILL_TEMPLATES
        sentences.append(rng.choice(pool).format(**fmt))

    # 3. Certifications and shift (and city, if the opener did not name it).
    clause, bare = shift_sentence_parts(rng, shift)
    certs_text = join_list(certs) if certs else ""
    # Avoid "Certified: Certified Logistics Associate (CLA)" and
    # "Certified in OSHA Forklift Certification".
    redundant = any("Certifi" in c for c in certs)
    cert_tmpls = [t for t in CERT_TEMPLATES if not (redundant and t.startswith("Certified"))]
    cert_shift_tmpls = [t for t in CERT_SHIFT_TEMPLATES
                        if not (redundant and t.startswith("Certified"))]
    if certs and rng.random() < 0.55:
        if city_done:
            sentences.append(rng.choice(cert_shift_tmpls).format(
                certs=certs_text, clause=clause, bare=bare))
        else:
            sentences.append(rng.choice(CERT_SHIFT_CITY_TEMPLATES).format(
                certs=certs_text, city=city, clause=clause, bare=bare))
            city_done = True
    else:
        if certs:
            sentences.append(rng.choice(cert_tmpls).format(certs=certs_text))
        elif rng.random() < 0.3:
            sentences.append(rng.choice(NO_CERT_TEMPLATES))
        if city_done:
            sentences.append(cap(bare) + ".")
        else:
            sentences.append(rng.choice(SHIFT_CITY_TEMPLATES).format(
                city=city, clause=clause, bare=bare))
            city_done = True

    # 4. Optional extras while there is room (max 4 sentences).
    extras = []
    cert_notes = [CERT_NOTES[c] for c in certs if c in CERT_NOTES]
    if cert_notes and rng.random() < 0.5:
        extras.append(rng.choice(cert_notes))
    if rng.random() < 0.35:
        extras.append(rng.choice(spec["notes"]))
    if rng.random() < 0.18:
        notes, weights = zip(*LANGUAGE_NOTES)
        extras.append(rng.choices(notes, weights=weights)[0])
    if rng.random() < 0.25:
        extras.append(rng.choice(AVAILABILITY_NOTES))
    rng.shuffle(extras)
    for e in extras:
        if len(sentences) >= 4:
            break
        sentences.append(e)

    assert city_done
    text = " ".join(sentences)
    metadata = {
        "role": role,
        "city": city,
        "certifications": certs,
        "shift": shift,
        "years": years,
    }
    return text, metadata


def generate():
    assert sum(n for _, n in ROLE_COUNTS) == TOTAL
    rng = random.Random(SEED)
    profiles = []
    for role, count in ROLE_COUNTS:
        n_alt = round(count * ALT_TITLE_FRACTION)
        alt_idx = set(rng.sample(range(count), n_alt))
        for i in range(count):
            profiles.append(make_profile(rng, role, use_exact_title=i not in alt_idx))
    rng.shuffle(profiles)
    records = []
    for i, (text, metadata) in enumerate(profiles, start=1):
        records.append({"id": f"w{i:04d}", "text": text, "metadata": metadata})
    return records


def write(records, out):
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------------------
# Verification
# ---------------------------------------------------------------------------

SENTENCE_END = re.compile(r"[.!?](?=\s|$)")

SHIFT_MARKERS = {
    "1st": ["1st shift"],
    "2nd": ["2nd shift"],
    "3rd": ["3rd shift"],
    "weekend": ["weekend"],
    "flexible": ["flexible", "any shift"],
}


def check(path):
    errors = []
    raw = Path(path).read_bytes()
    if b"\r" in raw:
        errors.append("file contains CR characters")
    lines = raw.decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines = lines[:-1]
    else:
        errors.append("file does not end with a newline")
    if len(lines) != TOTAL:
        errors.append(f"expected {TOTAL} lines, got {len(lines)}")

    records = []
    for n, line in enumerate(lines, start=1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as e:
            errors.append(f"line {n}: invalid JSON: {e}")
    ids = [r.get("id") for r in records]
    if len(set(ids)) != len(ids):
        errors.append("duplicate ids")
    if sorted(ids) != [f"w{i:04d}" for i in range(1, TOTAL + 1)]:
        errors.append("ids are not exactly w0001..w%04d" % TOTAL)

    for r in records:
        rid, text, md = r["id"], r["text"], r["metadata"]
        if list(r.keys()) != ["id", "text", "metadata"]:
            errors.append(f"{rid}: unexpected top-level keys {list(r.keys())}")
        if list(md.keys()) != ["role", "city", "certifications", "shift", "years"]:
            errors.append(f"{rid}: unexpected metadata keys {list(md.keys())}")
        if md["role"] not in ROLES:
            errors.append(f"{rid}: unknown role {md['role']}")
        n_sent = len(SENTENCE_END.findall(text))
        if not 2 <= n_sent <= 4:
            errors.append(f"{rid}: {n_sent} sentences")
        if text.count(md["city"]) != 1:
            errors.append(f"{rid}: city {md['city']!r} not mentioned exactly once")
        for c in CITIES:
            if c != md["city"] and c in text:
                errors.append(f"{rid}: mentions other city {c}")
        for c in md["certifications"]:
            if c not in text:
                errors.append(f"{rid}: certification {c!r} missing from text")
        for c in CERT_ORDER:
            # "Hazmat"/"OSHA 10" etc. must only be mentioned when held.
            if c in text and c not in md["certifications"]:
                errors.append(f"{rid}: text mentions {c!r} not in metadata")
        lower = text.lower()
        if not any(m in lower for m in SHIFT_MARKERS[md["shift"]]):
            errors.append(f"{rid}: shift {md['shift']!r} not reflected in text")
        for s, markers in SHIFT_MARKERS.items():
            if s != md["shift"] and s != "flexible" and any(m in lower for m in markers):
                errors.append(f"{rid}: text suggests shift {s!r}")
        y = md["years"]
        if not 0 <= y <= 25:
            errors.append(f"{rid}: years {y} out of range")
        if y == 0:
            if "no prior" not in text:
                errors.append(f"{rid}: zero years but no 'no prior' phrase")
        elif not re.search(rf"(?<!\d){y} years?\b", text):
            errors.append(f"{rid}: years {y} not in text")
        year_mentions = re.findall(r"(\d+) years?\b", text)
        if any(int(m) != y for m in year_mentions):
            errors.append(f"{rid}: conflicting year mentions {year_mentions}")

    by_role = collections.defaultdict(list)
    for r in records:
        by_role[r["metadata"]["role"]].append(r)
    for role in LOAD_MIX_ROLES:
        rs = by_role[role]
        if len(rs) < 22:
            errors.append(f"{role}: only {len(rs)} workers")
        exact = sum(role in r["text"] for r in rs)
        if exact < 0.8 * len(rs):
            errors.append(f"{role}: exact name in only {exact}/{len(rs)} texts")
        others = [r["id"] for r in records
                  if r["metadata"]["role"] != role and role.lower() in r["text"].lower()]
        if others:
            errors.append(f"{role}: name appears in other roles' texts {others}")

    # Summary table.
    print(f"{'role':<24}{'n':>4}{'exact':>7}{'yrs avg':>9}{'certs':>7}"
          f"  shifts (1st/2nd/3rd/wknd/flex)")
    for role, _ in ROLE_COUNTS:
        rs = by_role[role]
        exact = sum(role in r["text"] for r in rs)
        avg = sum(r["metadata"]["years"] for r in rs) / len(rs)
        with_certs = sum(bool(r["metadata"]["certifications"]) for r in rs)
        sh = collections.Counter(r["metadata"]["shift"] for r in rs)
        shifts = "/".join(str(sh[s]) for s in SHIFTS)
        mark = "*" if role in LOAD_MIX_ROLES else " "
        print(f"{mark}{role:<23}{len(rs):>4}{exact:>4}/{len(rs):<2}{avg:>9.1f}"
              f"{with_certs:>7}  {shifts}")
    print(f"{'total':<24}{len(records):>4}   (* = load-mix role; exact = texts "
          f"containing the exact role name)")
    cities = collections.Counter(r["metadata"]["city"] for r in records)
    print("cities:", ", ".join(f"{c} {n}" for c, n in sorted(cities.items())))
    certs = collections.Counter(c for r in records for c in r["metadata"]["certifications"])
    print("certifications:", ", ".join(f"{c} {n}" for c, n in certs.most_common()))
    for c in REQUIRED_CERTS:
        if certs[c] == 0:
            errors.append(f"certification {c!r} held by nobody")
    cross = sum(1 for r in records
                if "OSHA Forklift Certification" in r["metadata"]["certifications"]
                and r["metadata"]["role"] != "Forklift Operator")
    print(f"OSHA Forklift Certification held outside Forklift Operator role: {cross}")
    sent = collections.Counter(len(SENTENCE_END.findall(r["text"])) for r in records)
    print("sentences per profile:", dict(sorted(sent.items())))
    print(f"distinct texts: {len(set(r['text'] for r in records))}")

    if errors:
        print(f"\n{len(errors)} problem(s):", file=sys.stderr)
        for e in errors:
            print("  " + e, file=sys.stderr)
        return False
    print("OK: all checks passed")
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT,
                    help=f"output path (default: {DEFAULT_OUT.relative_to(REPO_ROOT)})")
    ap.add_argument("--check", action="store_true",
                    help="only verify an existing file, do not regenerate")
    args = ap.parse_args()
    if not args.check:
        write(generate(), args.out)
        print(f"wrote {TOTAL} workers to {args.out}")
    return 0 if check(args.out) else 1


if __name__ == "__main__":
    sys.exit(main())
