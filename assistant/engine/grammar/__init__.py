"""The tool-call grammar: JSON-schema grammars, their token automaton, constraints, closed-set scoring, jump-forward."""
