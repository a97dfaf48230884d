"""Engines behind `codeassist serve`: where the model output comes from."""

from server.engines.base import Engine, Generation, Piece, count_model_turns
from server.engines.scripted import ScriptedEngine

__all__ = ["Engine", "Generation", "Piece", "ScriptedEngine", "count_model_turns"]
