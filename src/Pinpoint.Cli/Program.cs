using Pinpoint.Cli;

return CliApp.Run(args);
