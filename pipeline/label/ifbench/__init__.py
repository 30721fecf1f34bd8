"""The 58 IFBench instructions (allenai/IFBench at db69a6f), with the official verdicts.

`registry.INSTRUCTIONS[instruction_id]` has `instruction_id`, `kwarg_names`, `describe(kwargs)` (the
official text), `sample_kwargs(rng, prompt)` (the official ranges, drawn from `rng`) and
`check(response, kwargs)` (the official strict verdict). Loose mode (the 8 response variants) is
the caller's: it is the same for every instruction. IFBench has no PyPI package, so these are our
own checkers; tests/test_ifbench*.py hold them to verdicts made by the unmodified official code.

`words:start_verb` needs NLTK's averaged perceptron tagger, which no PyPI package ships: see
`text.tagger_available()`; without it that checker raises `TaggerUnavailable`.
"""
