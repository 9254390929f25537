using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Pinpoint.Web;

/// <summary>Error answers: one JSON object {"error": message} with a 4xx status (5xx only for bugs), never a stack trace.</summary>
public static class ApiErrors
{
    public static Task Write(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        return context.Response.WriteAsync(JsonSerializer.Serialize(new { error = message }));
    }

    /// <summary>Turns exceptions from a request into answers: bad input 400, paths outside the roots 403, a busy model 409.</summary>
    public static async Task Handle(HttpContext context, RequestDelegate next, ICommandResults commands)
    {
        try
        {
            await next(context);
        }
        catch (Exception e) when (!context.Response.HasStarted)
        {
            var (status, message) = e switch
            {
                ForbiddenPathException => (StatusCodes.Status403Forbidden, e.Message),
                ModelBusyException => (StatusCodes.Status409Conflict, e.Message),
                FileNotFoundException or DirectoryNotFoundException => (StatusCodes.Status404NotFound, e.Message),
                BadHttpRequestException { InnerException: JsonException json } => (StatusCodes.Status400BadRequest, $"malformed JSON body: {json.Message}"),
                BadHttpRequestException bad => (bad.StatusCode, e.Message),
                JsonException => (StatusCodes.Status400BadRequest, $"malformed JSON body: {e.Message}"),
                OperationCanceledException when context.RequestAborted.IsCancellationRequested => (499, "request cancelled"),
                _ when commands.IsBadInput(e) => (StatusCodes.Status400BadRequest, e.Message),
                _ => (StatusCodes.Status500InternalServerError, $"internal error ({e.GetType().Name}): {e.Message}"),
            };
            context.Response.Clear();
            await Write(context, status, message);
        }
    }
}
