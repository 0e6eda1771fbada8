"""Answer: build the prompt, stream the model's reply, check its quote against the cited
passage, refuse when the articles do not say.
"""
