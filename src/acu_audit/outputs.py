"""SQL the night's outputs share (``publish``, ``analyst_copy``, ``report``)."""

# The hits an output of the night holds: every hit tonight's calibration kept as evidence, and the
# hits behind tonight's listed leads, found tonight or on earlier nights of the span. A CTE, `wanted(as_of,
# hit_id)`, with as_of the night each hit was found; the night is bound as $as_of.
NIGHTS_HITS = """
    wanted AS (
        SELECT as_of, hit_id FROM check_hits WHERE as_of = $as_of AND kept AND route = 'leads'
        UNION
        SELECT found_on, hit_id FROM lead_evidence WHERE as_of = $as_of
    )"""
