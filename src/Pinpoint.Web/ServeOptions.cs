namespace Pinpoint.Web;

/// <param name="Host">Address to bind; 127.0.0.1 unless the user names another.</param>
/// <param name="Port">TCP port; 0 picks a free one.</param>
/// <param name="Token">Required on every request (Bearer header, or a cookie set from the URL's ?token=).</param>
/// <param name="Roots">Folders models and training runs may be read from (resolved, symlinks included).</param>
/// <param name="DefaultModel">Model used when a request names none: a path relative to a root.</param>
public sealed record ServeOptions(string Host, int Port, string Token, IReadOnlyList<string> Roots, string DefaultModel = "default")
{
    public const string DefaultHost = "127.0.0.1";
    public const int DefaultPort = 8765;
    /// <summary>Request bodies above this are refused (413): prompts and dataset items are small.</summary>
    public const long MaxRequestBytes = 1 << 20;
    /// <summary>Requests handled at once across the server; more wait in a queue, and past it get 503.</summary>
    public const int MaxConcurrentRequests = 16, MaxQueuedRequests = 64;

    /// <summary>32 random bytes as hex, as Jupyter does.</summary>
    public static string NewToken() => Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
}
