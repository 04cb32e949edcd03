// `ltest -n` on a server with several gateway kernels: the client's run
// leads on one kernel, a helper run (no client) goes to each other free
// kernel, and the test processes ask the server for tests and pass reports
// on through their kernels' input_requests (gateway_shards.py, relay.py's
// SERVER_QUESTION): the server answers those itself.
#include <unistd.h>

#include <algorithm>
#include <set>

#include "log.hpp"
#include "server_core.hpp"

namespace ltest {
using namespace std::chrono;

// relay.py's SERVER_QUESTION: the prompt of a test process's question.
static const std::string server_question = "\x1b[ltest-shards]";

// A queued `-n` run while two kernels or more are free: it leads, and each
// other free kernel gets a helper. False: the run goes to one kernel as before.
bool server::start_sharded(run& lead) {
    if (lead.spec.workers == 1 || gateway_pool_.size() == 0 || !lead.shard_of.empty()) return false;
    std::vector<int> free = free_kernels();
    if (free.size() < 2) return false;
    shard_job& job = shard_jobs_[lead.id];
    lead.shard_lead = true;
    if (lead.spec.workers == 0 && opts_.workers_per_kernel > 0) lead.spec.workers = opts_.workers_per_kernel;  // else each host's CPUs
    lead.client_spec = lead.spec;
    lead.kernel = free[0];
    job.set_lead(free[0]);
    log::server().info("run {} sharded over {} gateway kernels", lead.id.substr(0, 8), free.size());
    // Each kernel's project tree is made the client's first, all at once
    // (server_tree_sync.cpp); a refused one is answered: the lead's ends the
    // job, a helper's leaves it.
    sync_then_start(lead);
    if (lead.phase() == run_phase::answered) return true;
    for (std::size_t i = 1; i < free.size(); ++i) start_helper(lead, job, free[i]);
    return true;
}

// A helper run (no client) of lead's job on kernel, appended to runs_
// (relaying at once, so start_runs' loop passes it by).
void server::start_helper(const run& lead, shard_job& job, int kernel) {
    run& h = runs_.emplace_back();
    h.id = lead.id + "/" + std::to_string(kernel) + "." + std::to_string(job.next_helper_number());
    h.request_header = lead.request_header;
    h.spec = lead.client_spec;
    h.shard_of = lead.id;
    h.kernel = kernel;
    job.add_helper(kernel);
    sync_then_start(h);
}

// A kernel that became free while a sharded run has tests left to hand out
// (its own run ended, or it was restarted after it died) joins that run.
void server::join_shard_jobs() {
    for (auto& [lead_id, job] : shard_jobs_) {
        auto lead = std::find_if(runs_.begin(), runs_.end(), [&](const run& r) { return r.id == lead_id; });
        if (lead == runs_.end() || lead->phase() != run_phase::relaying) continue;  // a lead to be first
        for (int k : free_kernels())
            if (job.may_join(k)) {
                log::server().info("run {}: gateway kernel {} joins", lead_id.substr(0, 8), k + 1);
                start_helper(*lead, job, k);
            }
    }
}

// The kernel of a sharded run's lead died: the run goes back to the queue,
// to lead again on the next free kernel (resume_lead), unless the job
// cannot go on. Its client is told at once; the new lead's report starts
// from the beginning.
bool server::take_over_lead(run& lead, const std::string& why) {
    if (!lead.shard_lead) return false;
    auto job = shard_jobs_.find(lead.id);
    if (job == shard_jobs_.end()) return false;
    std::string host = kernel_for(lead).status().value("gateway", json::object()).value("host", std::string());
    std::string where = "gateway kernel " + std::to_string(lead.kernel + 1) + (host.empty() ? "" : " on " + host);
    if (!job->second.lead_lost(where + " stopped while it led this run (" + why + ")", gateway_pool_.size() + 1))
        return false;
    log::server().warn("run {}: the lead's {} died; another kernel leads", lead.id.substr(0, 8), where);
    queue_for(lead, protocol::stream,
              json{{"name", "stderr"},
                   {"text", "\nltest: " + where + " stopped while it led this run (" + why +
                                "); another kernel takes the run over, and its report starts again\n"}});
    lead.execute_id.clear();
    lead.reply_seen = lead.idle_seen = lead.kernel_started = false;
    lead.result = json::object();
    lead.input_request_header = json();
    lead.pid = 0;
    lead.set_phase(run_phase::queued);
    return true;
}

void server::resume_lead(run& lead, int kernel) {
    lead.kernel = kernel;
    lead.spec = lead.client_spec;
    lead.syncs = 0;
    shard_jobs_[lead.id].set_lead(kernel);
    log::server().info("run {}: gateway kernel {} leads it now", lead.id.substr(0, 8), kernel + 1);
    sync_then_start(lead);
}

// A test process's question through its kernel's input_request: answered
// here (or held, for a helper that asks before the lead's ids are in).
// False: not a question of ours (the test's own input()).
bool server::on_shard_question(run& r, const kb::message& m) {
    std::string prompt = m.content.value("prompt", "");
    if (prompt.rfind(server_question, 0) != 0) {
        if (r.shard_of.empty()) return false;
        // A helper's test reads stdin: it has no client, so it gets what a client at the end of its input sends.
        kernel_for(r).client().send_input_reply("\x04", m.header);
        return true;
    }
    json question = json::parse(prompt.substr(server_question.size()), nullptr, false);
    if (!r.shard_lead && r.shard_of.empty()) {  // a run that is not sharded asks nothing of us
        kernel_for(r).client().send_input_reply("{}", m.header);
        return true;
    }
    const std::string& lead_id = r.shard_lead ? r.id : r.shard_of;
    auto job = shard_jobs_.find(lead_id);
    if (job == shard_jobs_.end() || question.is_discarded()) {  // the lead is gone: nothing more to do
        kernel_for(r).client().send_input_reply(json{{"done", true}, {"all_done", true}}.dump(), m.header);
        return true;
    }
    if (!r.shard_lead && question.value("op", "") == "next" && question.value("idle", 0) > 0 && !job->second.ids_known()) {
        r.shard_waiting = json{{"header", m.header}, {"question", question}};
        return true;
    }
    answer_shard_question(r, m.header, question);
    return true;
}

void server::answer_shard_question(run& r, const json& header, const json& question) {
    const std::string& lead_id = r.shard_lead ? r.id : r.shard_of;
    shard_job& job = shard_jobs_[lead_id];
    std::string op = question.value("op", "");
    json reply = json::object();
    if (op == "ids" && r.shard_lead) {
        job.set_ids(question.value("ids", std::vector<std::string>{}));
        kernel_for(r).client().send_input_reply("{}", header);
        for (auto& h : runs_)  // the helpers that asked first
            if (h.shard_of == lead_id && !h.shard_waiting.empty()) {
                json held = std::move(h.shard_waiting);
                h.shard_waiting = json();
                answer_shard_question(h, held["header"], held["question"]);
            }
        return;
    }
    if (op == "stop") job.stop();
    if (question.contains("events")) {
        if (r.shard_lead) job.from_lead(question["events"]);
        else job.from_helper(r.kernel, question["events"]);
    }
    if (op == "finished" && !r.shard_lead) job.helper_finished(r.kernel);
    if (op == "next") {
        reply["batches"] = job.take(r.kernel, question.value("idle", 0), question.value("workers", 0));
        reply["done"] = job.dispatch_done();
    }
    if (r.shard_lead) {
        reply["events"] = job.take_events();
        reply["notes"] = job.take_notes();
        reply["lost"] = job.take_lost();
        reply["all_done"] = job.all_done();
    }
    kernel_for(r).client().send_input_reply(reply.dump(-1, ' ', false, json::error_handler_t::replace), header);
}

// A sharded run was answered: a helper's end (finished, or its tests go
// back to the queue), or the lead's (its helpers stop).
void server::shard_run_ended(run& r) {
    if (r.shard_lead) {
        auto job = shard_jobs_.find(r.id);
        if (job == shard_jobs_.end()) return;
        job->second.stop();
        log::server().info("run {}: {} tests handed out", r.id.substr(0, 8), job->second.handed_out());
        signal_helpers(r);  // those not finished: the lead ended early (an error, Ctrl-C, -x)
        for (auto& h : runs_)  // a helper still waiting for the lead's ids: there are none
            if (h.shard_of == r.id && !h.shard_waiting.empty()) {
                kernel_for(h).client().send_input_reply(json{{"done", true}, {"all_done", true}}.dump(),
                                                        h.shard_waiting["header"]);
                h.shard_waiting = json();
            }
        shard_jobs_.erase(job);
        return;
    }
    if (r.shard_of.empty()) return;
    auto job = shard_jobs_.find(r.shard_of);
    if (job == shard_jobs_.end()) return;
    std::string host = kernel_for(r).status().value("gateway", json::object()).value("host", std::string());
    std::string why = "gateway kernel " + std::to_string(r.kernel + 1) + (host.empty() ? "" : " on " + host) +
                      " stopped before its tests were done";
    job->second.helper_lost(r.kernel, why);  // nothing when it had finished
}

// Ctrl-C (or the lead's early end) reaches every kernel's workers; a helper
// that finished is not interrupted (its kernel would be, in what runs next).
void server::signal_helpers(const run& lead) {
    auto job = shard_jobs_.find(lead.id);
    if (job == shard_jobs_.end()) return;
    std::set<int> running = job->second.helpers_running();
    for (auto& h : runs_)
        if (h.shard_of == lead.id && h.phase() == run_phase::relaying && running.count(h.kernel)) {
            h.interrupts = std::max(h.interrupts, 1);
            signal_run(h);
        }
}

}  // namespace ltest
