"""The llm step kind: a rate-limited agent over any OpenAI-compatible endpoint."""

from dana_workflows.processors.llm.cache import LLMCache, MappingLLMCache, SqliteLLMCache, cache_key
from dana_workflows.processors.llm.client import LLMClient, LLMRequest, LLMResult
from dana_workflows.processors.llm.limits import RateLimiter
from dana_workflows.processors.llm.output import OutputError, OutputSpec
from dana_workflows.processors.llm.processor import LLMProcessor
from dana_workflows.processors.llm.prompt import PromptError, PromptTemplate
from dana_workflows.processors.llm.retry import CircuitBreaker, RetryConfig

__all__ = [
    "CircuitBreaker",
    "LLMCache",
    "LLMClient",
    "LLMProcessor",
    "LLMRequest",
    "LLMResult",
    "MappingLLMCache",
    "OutputError",
    "OutputSpec",
    "PromptError",
    "PromptTemplate",
    "RateLimiter",
    "RetryConfig",
    "SqliteLLMCache",
    "cache_key",
]
