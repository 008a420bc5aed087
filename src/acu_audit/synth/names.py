"""Name, place and organisation vocabularies for the demo force (a fictional northern force).

Surnames are common UK surnames in rough frequency order; weights fall off with rank so that
surname + postcode collisions between unrelated people happen naturally but rarely.
"""

from __future__ import annotations

import numpy as np

SURNAMES = """
Smith Jones Taylor Brown Williams Wilson Johnson Davies Patel Robinson Wright Thompson Evans Walker
White Roberts Green Hall Thomas Clarke Jackson Wood Harris Edwards Turner Martin Cooper Hill Ward
Hughes Moore Clark King Harrison Lewis Baker Lee Allen Morris Khan Scott Watson Davis Parker James
Bennett Young Phillips Richardson Mitchell Bailey Carter Cook Singh Shaw Bell Collins Morgan Kelly
Begum Miller Cox Marshall Simpson Anderson Ellis Adams Wilkinson Ali Foster Chapman Russell Webb
Mason Rogers Hunt Hussain Murphy Pearson Graham Mills Holmes Gray Price Barnes Matthews Lloyd Knight
Butler Fisher Stevens Dixon Campbell Fletcher Palmer Lawrence Atkinson Stewart Ahmed Rose Hudson
Jenkins Kaur Gibson Ryan Carr Andrews Reid Howard Barker Armstrong Saunders Burton Hamilton Dawson
Hayes Grant Spencer Pearce Richards Holland Elliott Chambers Wells Kennedy Harvey Lowe Gardner Francis
Shah Fox Nicholson Sutton Knowles Rahman Cross Cole Lane Henderson Dean Ball Hart Burns Iqbal Newman
Payne Berry Akhtar Gordon Brooks Hargreaves Reynolds Walsh Sharp Hussey Riley Whitehead Booth Barrett
Warren Crawford Hodgson Barlow Ashworth Taylor-Smith Nuttall Haworth Whittaker Entwistle Holden
Duckworth Pilling Greenwood Sutcliffe Howarth Ormerod Kay Dewhurst Catterall Bamber Rawcliffe
Fazackerley Cowell Mahmood Bibi Rashid Aziz Malik Mistry Lad Desai Chauhan Ramsbottom Horrocks
Kenyon Birtwistle Hindle Hartley Holt Pickup Tattersall Fielding Lord Crook Heys Eccles Aspinall
Marsden Shorrock Worthington Hesketh Cartmell Sumner Hodgkinson Critchley Ainsworth Bradshaw Nelson
Ross Murray Watts Gill Page Banks Burke Fraser Day Rees Moss Harper Hopkins Doyle Byrne Parry
Farrell Connor Quinn Regan Sheridan Brennan Gallagher Duffy Nolan Hogan Kerr Wallace Morrison
Stone Jordan Long Hunter Black Chadwick Lawson Rowe Higgins Bond Horton Whittle Lomax Kirkham Cowan
""".split()

FORENAMES_F = """
Olivia Amelia Isla Ava Emily Sophia Grace Mia Poppy Ella Lily Evie Jessica Sophie Chloe Lucy
Charlotte Hannah Emma Laura Sarah Rebecca Katie Amy Rachel Gemma Claire Nicola Lisa Joanne Helen
Michelle Kelly Donna Tracey Julie Karen Susan Angela Jennifer Natalie Danielle Stacey Leanne Jade
Megan Holly Zoe Abigail Bethany Aisha Fatima Amira Zara Ayesha Priya Sana Maria Anna Paula Hayley
Kirsty Lauren Samantha Victoria Louise Kathryn Jane Margaret Patricia Barbara Elaine Dawn Carol
""".split()

FORENAMES_M = """
Oliver George Harry Jack Jacob Noah Charlie Thomas Oscar William James Leo Alfie Joshua Daniel
Matthew Ryan Luke Adam Michael David Paul Mark Andrew Christopher Stephen Richard Lee Craig Darren
Gary Neil Simon Stuart Wayne Dean Jason Carl Scott Anthony Robert John Peter Ian Kevin Martin
Graham Steven Liam Connor Callum Kieran Jordan Nathan Aaron Mohammed Muhammad Imran Asif Tariq
Bilal Hamza Ravi Sanjay Tomasz Piotr Marcus Dominic Shaun Gareth Philip Keith Brian Alan Barry
""".split()

# Outward codes of the force area (Lancashire-like); inward codes are generated.
OUTWARD_CODES = (
    [f"PR{i}" for i in range(1, 10)]
    + [f"BB{i}" for i in range(1, 13)]
    + [f"LA{i}" for i in range(1, 7)]
    + [f"FY{i}" for i in range(1, 9)]
    + ["L39", "L40", "WN8", "BL0", "BL9", "OL13", "OL14"]
)
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"

AREAS = ("North", "South", "East", "West", "Central")
TOWNS = (
    "Preston", "Blackburn", "Burnley", "Lancaster", "Blackpool", "Chorley", "Leyland", "Morecambe",
    "Accrington", "Fleetwood", "Ormskirk", "Skelmersdale", "Darwen", "Nelson", "Colne", "Clitheroe",
    "Lytham", "Rossendale", "Garstang", "Carnforth",
)
SUPPORT_UNITS = (
    "Criminal Justice Unit", "Records Management", "Finance", "HR Services", "IT Services", "Fleet Services",
    "Estates", "Learning and Development", "Vetting Unit", "Information Management",
)
OTHER_UNITS = ("Corporate Services", "Chief Officer Team", "Corporate Communications", "Change Programme")

PARTNER_AGENCIES = (
    "County Council Children's Services", "County Council Adult Social Care", "Crown Prosecution Service",
    "HM Courts and Tribunals Service", "Probation Service North West", "NHS Teaching Hospitals Trust",
    "North West Ambulance Service", "Fire and Rescue Service", "Victim Support", "Domestic Abuse Refuge Trust",
    "Youth Justice Service", "Housing Association", "DVLA", "Highways Agency", "Borough Council Licensing",
    "Borough Council Community Safety", "Mental Health Trust", "Drug and Alcohol Service", "Schools Safeguarding Hub",
    "Independent Sexual Violence Advisers", "Border Force", "National Crime Agency", "HM Prison Service",
    "Trading Standards", "Citizens Advice",
)
BUSINESS_WORDS = (
    "Plumbing", "Driving School", "Fitness", "Security", "Joinery", "Photography", "Dog Grooming", "Lettings",
    "Catering", "Tutoring", "Cleaning", "Landscaping", "Motors", "Beauty", "Personal Training", "Electrical",
    "Removals", "Events", "Bookkeeping", "Taxis",
)

CONDITIONS_BUSINESS = (
    "Not to be undertaken on duty or using force equipment; hours not to exceed 10 per week.",
    "Approved subject to no conflict with police duties; no use of police information or premises.",
    "Not to be carried out within the force area when on call; annual review.",
)
CONDITIONS_ASSOCIATION = (
    "No discussion of police business; no access to records concerning the associate.",
    "Declare any change in the associate's circumstances; no access to records concerning the associate.",
)


def surname_weights() -> np.ndarray:
    """Rank-based weights (a flattened Zipf), normalised."""
    ranks = np.arange(1, len(SURNAMES) + 1, dtype=float)
    w = 1.0 / ranks**0.4
    return w / w.sum()
