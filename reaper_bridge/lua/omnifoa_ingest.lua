-- omnifoa_ingest.lua: REAPER action that puts omnifoa's FOA stems on 4-channel tracks.
--
-- omnifoa writes a job file into <spool>/pending/<job id>.json and rings this action over
-- OSC. Every pending job is read, checked, and (if sound) applied inside one undo block:
-- a 4-channel AmbiX track per stem (one item; a stem with takes gets one REAPER take per file,
-- the chosen one active), tagged with the job so a replayed job changes nothing,
-- under a 4-channel monitoring folder (IEM SceneRotator -> IEM BinauralDecoder by default;
-- a missing plug-in is reported, not fatal). The job file then moves to <spool>/done/ and an
-- ack, <spool>/acks/<job id>.ack.json, tells omnifoa what happened.

local SECTION = "omnifoa"
local BUS_TAG = "P_EXT:omnifoa_bus"
local JOB_TAG = "P_EXT:omnifoa_stem"
local MAX_STEMS = 64
local MAX_TAKES = 64
local MAX_POSITION = 1e6 -- seconds: anything further is a broken job, not a project
local MAX_JOB_BYTES = 256 * 1024 -- a job file is a few hundred bytes a stem; more is not ours
local DEFAULT_FX = { "VST3:IEM SceneRotator (IEM)", "VST3:IEM BinauralDecoder (IEM)" }
-- The monitoring plug-ins a job may ask for: IEM's ambisonic tools, by REAPER's own names.
-- Nothing else, so a job can never name a script or a path (no "JS:../../x").
local ALLOWED_FX = {}
for _, kind in ipairs({ "VST3", "VST", "AU", "CLAP" }) do
  for _, plugin in ipairs({ "SceneRotator", "BinauralDecoder", "AllRADecoder", "SimpleDecoder",
                            "EnergyVisualizer", "StereoEncoder", "MultiEncoder" }) do
    ALLOWED_FX[kind .. ":IEM " .. plugin .. " (IEM)"] = true
  end
end
local STEM_EXTENSIONS = { wav = true, flac = true, w64 = true, rf64 = true }

local function script_dir()
  local source = debug.getinfo(1, "S").source
  return source:match("^@(.*[/\\])") or "./"
end

local json = dofile(script_dir() .. "omnifoa_json.lua")

local function config_path()
  return reaper.GetResourcePath() .. "/omnifoa/bridge.json"
end

local function read_file(path, max_bytes)
  local f = io.open(path, "rb")
  if not f then return nil end
  local size = f:seek("end")
  if max_bytes and size and size > max_bytes then
    f:close()
    return nil, "the job file is larger than " .. max_bytes .. " bytes"
  end
  f:seek("set")
  local text = f:read("a")
  f:close()
  return text
end

local function write_atomic(path, text)
  local tmp = path .. ".partial"
  local f = assert(io.open(tmp, "wb"))
  f:write(text)
  f:close()
  os.remove(path)
  assert(os.rename(tmp, path))
end

-- ---------------------------------------------------------------- checks

local function is_text(s, max)
  return type(s) == "string" and #s > 0 and #s <= max and not s:find("%c") and utf8.len(s) ~= nil
end

local function is_absolute(path)
  return path:sub(1, 1) == "/" or path:match("^%a:[/\\]") ~= nil or path:sub(1, 2) == "\\\\"
end

-- A stem's takes, when it lists them: 1 to MAX_TAKES files with names, the active one (a
-- 0-based index) being the stem's own path.
local function check_takes(stem, bad)
  if stem.takes == nil then
    if stem.active ~= nil then bad("active names a take, but the stem lists none") end
    return
  end
  if type(stem.takes) ~= "table" or #stem.takes < 1 or #stem.takes > MAX_TAKES then
    bad("takes must be a list of 1 to " .. MAX_TAKES .. " takes")
    return
  end
  for k, take in ipairs(stem.takes) do
    if type(take) ~= "table" or not is_text(take.path, 4096) or not is_absolute(take.path) then
      bad("take " .. k .. ": the path must be an absolute file path without control characters")
    elseif not is_text(take.name, 256) then
      bad("take " .. k .. ": the name must be plain text")
    end
  end
  local a = stem.active
  if math.type(a) ~= "integer" or a < 0 or a >= #stem.takes then
    bad("active must be the index of one of its takes (0 to " .. #stem.takes - 1 .. ")")
  elseif type(stem.takes[a + 1]) == "table" and stem.takes[a + 1].path ~= stem.path then
    bad("the path must be the active take's file")
  end
end

local function check_job(job, expected_id)
  local errors = {}
  local function bad(message) errors[#errors + 1] = message end
  if type(job) ~= "table" then return { "the job is not a JSON object" } end
  if job.schema ~= "omnifoa-reaper-job" or job.version ~= 1 then
    bad("the job is not an omnifoa-reaper-job of version 1")
  end
  if job.job_id ~= expected_id then bad("the job id does not match its file name") end
  if type(job.stems) ~= "table" or #job.stems < 1 or #job.stems > MAX_STEMS then
    bad("a job needs 1 to " .. MAX_STEMS .. " stems")
    return errors
  end
  for i, stem in ipairs(job.stems) do
    local where = "stem " .. i .. ": "
    if type(stem) ~= "table" then
      bad(where .. "not an object")
    else
      if not is_text(stem.path, 4096) or not is_absolute(stem.path) then
        bad(where .. "the path must be an absolute file path without control characters")
      end
      if not is_text(stem.name, 256) then bad(where .. "the name must be plain text") end
      local p = stem.position
      if type(p) ~= "number" or p ~= p or p < 0 or p > MAX_POSITION then
        bad(where .. "the position must be between 0 and " .. MAX_POSITION .. " seconds")
      end
      if stem.format ~= "ambix" then bad(where .. "only AmbiX stems can be dropped") end
      check_takes(stem, function(message) bad(where .. message) end)
    end
  end
  if job.fx ~= nil then
    if type(job.fx) ~= "table" or #job.fx > 8 then
      bad("fx must be a list of at most 8 plug-in names")
    else
      for _, name in ipairs(job.fx) do
        if not is_text(name, 256) or not ALLOWED_FX[name] then
          bad("fx names must be IEM plug-ins such as 'VST3:IEM BinauralDecoder (IEM)'")
        end
      end
    end
  end
  if job.bus ~= nil and not is_text(job.bus, 128) then bad("the bus name must be plain text") end
  return errors
end

-- ---------------------------------------------------------------- the project

local function track_with_tag(tag, value)
  for i = 0, reaper.CountTracks(0) - 1 do
    local track = reaper.GetTrack(0, i)
    local ok, found = reaper.GetSetMediaTrackInfo_String(track, tag, "", false)
    if ok and found == value then return track, i end
  end
  return nil
end

local function new_track(index, name)
  reaper.InsertTrackAtIndex(index, true)
  local track = reaper.GetTrack(0, index)
  reaper.GetSetMediaTrackInfo_String(track, "P_NAME", name, true)
  reaper.SetMediaTrackInfo_Value(track, "I_NCHAN", 4)
  return track
end

local function monitoring_bus(name, fx_names, fx_report)
  local bus = track_with_tag(BUS_TAG, "1")
  if bus then return bus end
  bus = new_track(reaper.CountTracks(0), name)
  reaper.GetSetMediaTrackInfo_String(bus, BUS_TAG, "1", true)
  reaper.SetMediaTrackInfo_Value(bus, "I_FOLDERDEPTH", 0)
  for _, fx in ipairs(fx_names) do
    local index = reaper.TrackFX_AddByName(bus, fx, false, -1)
    fx_report[#fx_report + 1] = { name = fx, ok = index >= 0 }
  end
  return bus
end

-- The index after the bus's last child, making the new track the folder's last child.
local function add_to_folder(bus, name)
  local bus_index = math.floor(reaper.GetMediaTrackInfo_Value(bus, "IP_TRACKNUMBER")) - 1
  local last = bus_index
  if reaper.GetMediaTrackInfo_Value(bus, "I_FOLDERDEPTH") == 1 then
    local depth, i = 1, bus_index
    while depth > 0 and i + 1 < reaper.CountTracks(0) do
      i = i + 1
      depth = depth + reaper.GetMediaTrackInfo_Value(reaper.GetTrack(0, i), "I_FOLDERDEPTH")
    end
    last = i
    reaper.SetMediaTrackInfo_Value(reaper.GetTrack(0, last), "I_FOLDERDEPTH", 0)
  else
    reaper.SetMediaTrackInfo_Value(bus, "I_FOLDERDEPTH", 1)
  end
  local track = new_track(last + 1, name)
  reaper.SetMediaTrackInfo_Value(track, "I_FOLDERDEPTH", -1)
  return track
end

-- Whether a path names a regular file: REAPER lists it among its folder's files (folders,
-- pipes and devices are not files), with an audio file's extension.
local function is_regular_audio_file(path)
  local folder, name = path:match("^(.*)[/\\]([^/\\]+)$")
  if not folder or not STEM_EXTENSIONS[(name:match("%.(%w+)$") or ""):lower()] then
    return false
  end
  local i = 0
  while true do
    local listed = reaper.EnumerateFiles(folder, i)
    if not listed then return false end
    if listed == name then return true end
    i = i + 1
  end
end

-- The files a stem puts in its item: its takes, or the stem itself as its one take.
local function take_files(stem)
  return stem.takes or { { path = stem.path } }
end

-- One take's file opened and checked (4 channels, samples); nil after an error.
local function open_source(path, where, errors)
  local source = is_regular_audio_file(path) and reaper.PCM_Source_CreateFromFile(path)
  if not source then
    errors[#errors + 1] = where .. "REAPER cannot read " .. path
    return nil
  end
  local channels = reaper.GetMediaSourceNumChannels(source)
  if channels ~= 4 then
    errors[#errors + 1] = where .. "has " .. channels .. " channels, not 4"
  elseif reaper.GetMediaSourceLength(source) <= 0 then -- seconds (its first value)
    errors[#errors + 1] = where .. path .. " has no audio (0 samples)"
  else
    return source
  end
end

-- Takes share one item: each must last as long as the first, within one sample.
local function check_one_length(sources, i, errors)
  local first = sources[1] and reaper.GetMediaSourceLength(sources[1])
  for k = 2, #sources do
    local source = sources[k]
    if first and source then
      local rate = math.min(reaper.GetMediaSourceSampleRate(sources[1]),
                            reaper.GetMediaSourceSampleRate(source))
      if math.abs(reaper.GetMediaSourceLength(source) - first) > 1 / rate + 1e-9 then
        errors[#errors + 1] = "stem " .. i .. ", take " .. k .. ": not as long as take 1 ("
          .. reaper.GetMediaSourceLength(source) .. " s, not " .. first .. " s)"
      end
    end
  end
end

-- Every file of every stem opened and checked before anything in the project changes.
local function open_sources(job, errors)
  local sources = {}
  for i, stem in ipairs(job.stems) do
    local files = take_files(stem)
    sources[i] = {}
    for k, take in ipairs(files) do
      local where = stem.takes and ("stem " .. i .. ", take " .. k .. ": ") or ("stem " .. i .. ": ")
      sources[i][k] = open_source(take.path, where, errors) or false
    end
    check_one_length(sources[i], i, errors)
  end
  return sources
end

-- The item's takes, each with its source (and its name, for a stem that lists takes), the
-- stem's active take made the one that plays.
local function add_takes(item, stem, sources)
  for k, file in ipairs(take_files(stem)) do
    local take = reaper.AddTakeToMediaItem(item)
    reaper.SetMediaItemTake_Source(take, sources[k])
    if file.name then reaper.GetSetMediaItemTakeInfo_String(take, "P_NAME", file.name, true) end
  end
  if stem.takes then reaper.SetActiveTake(reaper.GetMediaItemTake(item, stem.active)) end
end

-- What REAPER holds: how many takes the item has, and which one is active (0-based).
local function takes_report(item)
  local active = reaper.GetActiveTake(item)
  for k = 0, reaper.CountTakes(item) - 1 do
    if reaper.GetMediaItemTake(item, k) == active then return reaper.CountTakes(item), k end
  end
  return reaper.CountTakes(item), -1
end

local function place_stem(job, index, stem, sources, bus, report)
  local key = job.job_id .. ":" .. index
  local existing = track_with_tag(JOB_TAG, key)
  local entry = { name = stem.name, replayed = existing ~= nil }
  if existing then
    entry.guid = reaper.GetTrackGUID(existing)
    if stem.takes then entry.takes, entry.active = #stem.takes, stem.active end
    report.tracks[#report.tracks + 1] = entry
    return
  end
  local playing = sources[(stem.active or 0) + 1]
  local length = reaper.GetMediaSourceLength(playing) -- (length, lengthIsQN): the first is seconds
  local track = add_to_folder(bus, stem.name)
  reaper.GetSetMediaTrackInfo_String(track, JOB_TAG, key, true)
  local item = reaper.AddMediaItemToTrack(track)
  add_takes(item, stem, sources)
  reaper.SetMediaItemInfo_Value(item, "D_POSITION", stem.position)
  reaper.SetMediaItemInfo_Value(item, "D_LENGTH", length)
  if stem.takes then entry.takes, entry.active = takes_report(item) end
  entry.guid = reaper.GetTrackGUID(track)
  report.tracks[#report.tracks + 1] = entry
end

local function apply(job, sources, report)
  reaper.Undo_BeginBlock()
  local ok, err = pcall(function()
    local bus = monitoring_bus(job.bus or "omnifoa FOA monitor", job.fx or DEFAULT_FX, report.fx)
    for i, stem in ipairs(job.stems) do place_stem(job, i, stem, sources[i], bus, report) end
  end)
  reaper.Undo_EndBlock("omnifoa: add FOA stems", -1)
  reaper.UpdateArrange()
  if not ok then report.errors[#report.errors + 1] = "REAPER refused a change: " .. tostring(err) end
end

-- ---------------------------------------------------------------- the spool

local function process(spool, file)
  local job_id = file:match("^(%x+)%.json$")
  if not job_id or #job_id ~= 32 then return end
  local path = spool .. "/pending/" .. file
  local report = { schema = "omnifoa-reaper-ack", version = 1, job_id = job_id,
                   tracks = json.array(), fx = json.array(), errors = json.array() }
  local ack_path = spool .. "/acks/" .. job_id .. ".ack.json"
  local text, too_big = read_file(path, MAX_JOB_BYTES)
  local ok, job = pcall(json.decode, text or "")
  local problems = (too_big and { too_big })
    or (ok and check_job(job, job_id))
    or { "the job file is not valid JSON (" .. tostring(job) .. ")" }
  local sources = #problems == 0 and open_sources(job, problems) or {}
  if #problems > 0 then
    for _, p in ipairs(problems) do report.errors[#report.errors + 1] = p end
    report.status = "rejected"
  else
    -- An ack that says "applying" first: if even that cannot be written, nothing is changed
    -- (the job stays pending); once it is written, no track is ever left without an ack.
    report.status = "applying"
    if not pcall(write_atomic, ack_path, json.encode(report)) then
      reaper.ShowConsoleMsg("omnifoa: cannot write " .. ack_path .. "; job " .. job_id .. " left pending\n")
      return
    end
    apply(job, sources, report)
    report.status = #report.errors == 0 and "ok" or "failed"
  end
  os.remove(spool .. "/done/" .. file)
  os.rename(path, spool .. "/done/" .. file)
  if not pcall(write_atomic, ack_path, json.encode(report)) then
    reaper.ShowConsoleMsg("omnifoa: cannot write " .. ack_path .. " (job " .. job_id .. ": " .. report.status .. ")\n")
  end
end

local function main()
  local config_text = read_file(config_path())
  local ok, config = pcall(json.decode, config_text or "")
  if not ok or type(config) ~= "table" or type(config.spool) ~= "string" then
    reaper.ShowConsoleMsg("omnifoa: run omnifoa_install.lua first (no bridge.json)\n")
    return
  end
  local files, i = {}, 0
  while true do
    local name = reaper.EnumerateFiles(config.spool .. "/pending", i)
    if not name then break end
    files[#files + 1] = name
    i = i + 1
  end
  table.sort(files)
  for _, name in ipairs(files) do
    local ok, err = pcall(process, config.spool, name) -- one bad job never stops the batch
    if not ok then reaper.ShowConsoleMsg("omnifoa: job " .. name .. ": " .. tostring(err) .. "\n") end
  end
end

main()
