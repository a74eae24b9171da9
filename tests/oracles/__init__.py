"""Hand-written PyTorch models used as independent oracles for the generated code.

Written from the papers and numbers.md, never from archc's generator: each module has its own
way of expressing the tricky layers (LeNet-5's connection table as 16 separate convs, AlexNet's
grouped convs as two literal towers), and a `load_generated` that copies a generated model's
weights into it by the spec's layer names.
"""
