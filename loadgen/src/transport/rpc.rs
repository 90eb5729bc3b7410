//! The RPCs the generator calls and their HTTP/2 paths.

/// The RPCs the generator calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rpc {
    /// `joblet.JobService/RunJob`
    RunJob,
    /// `joblet.JobService/GetJobStatus`
    GetJobStatus,
    /// `joblet.JobService/ListJobs`
    ListJobs,
    /// `joblet.JobService/GetJobLogs` (server stream)
    GetJobLogs,
    /// `joblet.JobService/StopJob`
    StopJob,
    /// `joblet.JobService/DeleteJob`
    DeleteJob,
    /// `joblet.JobService/StreamJobMetrics` (server stream; v2 only)
    StreamJobMetrics,
    /// `joblet.JobService/StreamJobTelematics` (server stream; v2 only)
    StreamJobTelematics,
}

impl Rpc {
    /// Every RPC, in a fixed order.
    pub const ALL: [Rpc; 8] = [
        Rpc::RunJob,
        Rpc::GetJobStatus,
        Rpc::ListJobs,
        Rpc::GetJobLogs,
        Rpc::StopJob,
        Rpc::DeleteJob,
        Rpc::StreamJobMetrics,
        Rpc::StreamJobTelematics,
    ];

    /// The HTTP/2 `:path` of the RPC.
    pub fn path(self) -> &'static str {
        match self {
            Rpc::RunJob => "/joblet.JobService/RunJob",
            Rpc::GetJobStatus => "/joblet.JobService/GetJobStatus",
            Rpc::ListJobs => "/joblet.JobService/ListJobs",
            Rpc::GetJobLogs => "/joblet.JobService/GetJobLogs",
            Rpc::StopJob => "/joblet.JobService/StopJob",
            Rpc::DeleteJob => "/joblet.JobService/DeleteJob",
            Rpc::StreamJobMetrics => "/joblet.JobService/StreamJobMetrics",
            Rpc::StreamJobTelematics => "/joblet.JobService/StreamJobTelematics",
        }
    }
}
