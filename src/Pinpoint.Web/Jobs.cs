using System.Collections.Concurrent;
using System.Threading.Channels;

namespace Pinpoint.Web;

/// <summary>One progress report of a long job: a stage, how far it is, and how far it goes.</summary>
public sealed record JobProgress(string Stage, int Done, int Total);

/// <summary>A job's state as the API reports it.</summary>
/// <param name="State">running, done, failed or cancelled.</param>
public sealed record JobStatus(string Id, string Kind, string Model, string State, JobProgress? Progress, string? Error);

/// <summary>
/// Long work (dataset explain) run in the background: progress and the result are pushed to listeners as
/// server-sent events, and a job can be cancelled (it stops at its next progress report).
/// </summary>
public sealed class Jobs
{
    /// <summary>Finished jobs kept (with their results) for late listeners; older ones are dropped.</summary>
    public const int KeptFinished = 16;

    private readonly ConcurrentDictionary<string, Job> _jobs = new(StringComparer.Ordinal);

    public Job Start(string kind, string model, Func<Action<JobProgress>, CancellationToken, Task<object>> work)
    {
        foreach (var old in _jobs.Values.Where(j => j.State != "running").OrderByDescending(j => j.Started).Skip(KeptFinished))
            _jobs.TryRemove(old.Id, out _);
        var job = new Job(Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8)), kind, model);
        _jobs[job.Id] = job;
        _ = Task.Run(async () =>
        {
            try
            {
                job.Finish(await work(job.Report, job.Cancellation.Token), null);
            }
            catch (OperationCanceledException) when (job.Cancellation.IsCancellationRequested)
            {
                job.Finish(null, null);
            }
            catch (Exception e)
            {
                job.Finish(null, e.Message);
            }
        });
        return job;
    }

    public Job? Find(string id) => _jobs.GetValueOrDefault(id);

    public sealed class Job(string id, string kind, string model)
    {
        private readonly Lock _lock = new();
        private readonly List<Channel<(string Event, object Data)>> _listeners = [];

        public string Id { get; } = id;
        public string Kind { get; } = kind;
        public string Model { get; } = model;
        public DateTime Started { get; } = DateTime.UtcNow;
        public CancellationTokenSource Cancellation { get; } = new();
        public JobProgress? Progress { get; private set; }
        public object? Result { get; private set; }
        public string? Error { get; private set; }
        public string State { get; private set; } = "running";

        public JobStatus Status => new(Id, Kind, Model, State, Progress, Error);

        /// <summary>Records progress, tells the listeners, and stops the job here when it was cancelled.</summary>
        public void Report(JobProgress progress)
        {
            Cancellation.Token.ThrowIfCancellationRequested();
            lock (_lock)
            {
                Progress = progress;
                foreach (var l in _listeners) l.Writer.TryWrite(("progress", progress));
            }
        }

        public void Finish(object? result, string? error)
        {
            lock (_lock)
            {
                Result = result;
                Error = error;
                State = result is not null ? "done" : error is not null ? "failed" : "cancelled";
                foreach (var l in _listeners)
                {
                    l.Writer.TryWrite((State, result ?? Status));
                    l.Writer.TryComplete();
                }
                _listeners.Clear();
            }
        }

        /// <summary>Events from now on: the latest progress at once, then each report, then the outcome (done with the result, failed or cancelled with the status).</summary>
        public ChannelReader<(string Event, object Data)> Listen()
        {
            var channel = Channel.CreateUnbounded<(string, object)>();
            lock (_lock)
            {
                if (Progress is { } p) channel.Writer.TryWrite(("progress", p));
                if (State != "running")
                {
                    channel.Writer.TryWrite((State, Result ?? Status));
                    channel.Writer.TryComplete();
                }
                else _listeners.Add(channel);
            }
            return channel.Reader;
        }
    }
}
