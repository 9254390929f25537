using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Pinpoint.Web;

/// <summary>
/// The server's guard, as Jupyter's: Host header checked against the bound names (DNS rebinding → 400), the token
/// required on every request (Bearer header, or the printed URL's ?token= swapped for an HttpOnly SameSite=Strict
/// cookie → else 401), non-GET requests from a foreign Origin refused (403), request bodies capped (413), and
/// headers that keep the pages to the server's own content (CSP default-src 'self', no framing, no sniffing).
/// No CORS headers are ever sent, so other sites' scripts cannot read answers.
/// </summary>
public sealed class Security(ServeOptions options)
{
    public const string CookieName = "pinpoint_token";
    public const string ContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

    /// <summary>For the self-contained HTML reports: their inline CSS only; no scripts, nothing loaded.</summary>
    public const string ReportPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

    private readonly byte[] _token = Encoding.UTF8.GetBytes(options.Token);
    private readonly HashSet<string> _hostNames = AllowedHostNames(options.Host);
    private readonly bool _anyAddress = options.Host is "0.0.0.0" or "::" or "[::]";

    private static HashSet<string> AllowedHostNames(string host) =>
        new(["localhost", "127.0.0.1", "::1", host.Trim('[', ']')], StringComparer.OrdinalIgnoreCase);

    public async Task Invoke(HttpContext context, RequestDelegate next)
    {
        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers.CacheControl = "no-store";

        if (!HostAllowed(context.Request.Host))
        {
            await ApiErrors.Write(context, StatusCodes.Status400BadRequest, $"Host '{context.Request.Host}' is not this server's (DNS rebinding protection); open the printed URL");
            return;
        }
        if (!HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method) && !SameOrigin(context.Request))
        {
            await ApiErrors.Write(context, StatusCodes.Status403Forbidden, $"cross-origin {context.Request.Method} from '{context.Request.Headers.Origin}' refused");
            return;
        }
        if (context.Request.ContentLength > ServeOptions.MaxRequestBytes)
        {
            await ApiErrors.Write(context, StatusCodes.Status413PayloadTooLarge, $"request body of {context.Request.ContentLength} bytes is over the limit of {ServeOptions.MaxRequestBytes}");
            return;
        }
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size) size.MaxRequestBodySize = ServeOptions.MaxRequestBytes;

        if (context.Request.Query.TryGetValue("token", out var fromUrl))
        {
            if (!Matches(fromUrl.ToString()))
            {
                await ApiErrors.Write(context, StatusCodes.Status401Unauthorized, "wrong token; open the URL the server printed");
                return;
            }
            // The token leaves the address bar (and history) at once; the cookie carries it from now on.
            context.Response.Cookies.Append(CookieName, options.Token, new CookieOptions
            {
                HttpOnly = true, SameSite = SameSiteMode.Strict, Path = "/", IsEssential = true, Secure = context.Request.IsHttps,
            });
            if (HttpMethods.IsGet(context.Request.Method))
            {
                var query = QueryString.Create(context.Request.Query.Where(q => q.Key != "token"));
                context.Response.Redirect(context.Request.PathBase + context.Request.Path + query);
                return;
            }
        }
        else if (!Authorized(context.Request))
        {
            await ApiErrors.Write(context, StatusCodes.Status401Unauthorized, "a token is required: open the URL the server printed, or send 'Authorization: Bearer TOKEN'");
            return;
        }
        await next(context);
    }

    private bool Authorized(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return Matches(header["Bearer ".Length..].Trim());
        return request.Cookies.TryGetValue(CookieName, out var cookie) && Matches(cookie);
    }

    private bool Matches(string? given) =>
        given is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), _token);

    private bool HostAllowed(HostString host)
    {
        if (!host.HasValue) return false;
        var name = host.Host.Trim('[', ']');
        return _hostNames.Contains(name) || (_anyAddress && IPAddress.TryParse(name, out _));
    }

    /// <summary>No Origin (scripts, curl) or the page's own scheme://host:port.</summary>
    private static bool SameOrigin(HttpRequest request)
    {
        var origin = request.Headers.Origin.ToString();
        if (origin.Length == 0) return true;
        return string.Equals(origin, $"{request.Scheme}://{request.Host}", StringComparison.OrdinalIgnoreCase);
    }
}
