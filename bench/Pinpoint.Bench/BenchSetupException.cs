namespace Pinpoint.Bench;

/// <summary>A benchmark cannot run here (a missing anchor library, say); reported without a stack trace.</summary>
public sealed class BenchSetupException(string message) : Exception(message);
