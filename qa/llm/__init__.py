"""Generators: the chat-model backends (embedded llama.cpp, OpenAI-compatible, Ollama), the
fake model for tests, and the packaged model files.
"""
