"""Static analysis of workflow specs, before anything runs.

Two layers: `types` checks every CEL expression against the fields' declared types (what the CEL
library only finds per event, at run time), and `solver` asks z3 which route branches can never be
taken, which rules can never fail or pass, which objective constraints every event of a branch breaks
and which transforms leave a field's declared range, each with an example event from the solver's model.
`dana-wf validate` runs both (analysis.report).
"""
