-- omnifoa_regenerate_selection.lua: REAPER action that regenerates the part of an omnifoa
-- item under the time selection, as a new take of that item.
--
-- Select one item whose active take plays an omnifoa stem (or one of its takes), make a time
-- selection over the part you do not like, and run this action. It maps the selection to
-- seconds into the stem (item position, the take's start offset; the take must play at rate
-- 1), runs `omnifoa regenerate STEM --from S --to S` (the command that `omnifoa reaper link`
-- wrote into bridge.json), and adds the new take to the item, active, in one undo step.
-- REAPER waits while omnifoa works. Anything wrong: one message, and the project is as it was.

local TITLE = "omnifoa: regenerate the time selection"
local UNDO = "omnifoa: regenerate a range"
local TIMEOUT_MS = 10 * 60 * 1000
local MAX_SIDECAR_BYTES = 16 * 1024 * 1024
local MAX_CONFIG_BYTES = 64 * 1024

local function script_dir()
  local source = debug.getinfo(1, "S").source
  return source:match("^@(.*[/\\])") or "./"
end

local json = dofile(script_dir() .. "omnifoa_json.lua")

local function tell(message)
  reaper.ShowMessageBox(message, TITLE, 0)
end

local function read_json(path, max_bytes)
  local f = io.open(path, "rb")
  if not f then return nil end
  local size = f:seek("end")
  if not size or size > max_bytes then
    f:close()
    return nil
  end
  f:seek("set")
  local text = f:read("a")
  f:close()
  local ok, value = pcall(json.decode, text or "")
  return ok and type(value) == "table" and value or nil
end

local function is_absolute(path)
  return path:sub(1, 1) == "/" or path:match("^%a:[/\\]") ~= nil or path:sub(1, 2) == "\\\\"
end

-- ---------------------------------------------------------------- the stem

-- The stem a file belongs to: the file itself, or for <folder>/<stem>.takes/take<N>.<ext> the
-- stem <folder>/<stem> and N.
local function stem_of(file)
  local folder, sep, name, number = file:match("^(.*)([/\\])([^/\\]+)%.takes[/\\]take(%d+)%.[^./\\]+$")
  if folder then return folder .. sep .. name, math.tointeger(tonumber(number)) end
  return file, nil
end

local function folder_of(path)
  return path:match("^(.*[/\\])[^/\\]*$") or ""
end

-- The takes a sidecar lists (number, file, seed) and the chosen one's number; a sidecar from
-- before takes: one take, the stem itself.
local function sidecar_takes(stem, document)
  if document.takes == nil then
    local seed = type(document.request) == "table" and document.request.seed or 0
    return { { number = 1, file = stem:match("[^/\\]+$"), seed = seed } }, 1
  end
  local takes = {}
  if type(document.takes) ~= "table" then return nil end
  for _, t in ipairs(document.takes) do
    if type(t) ~= "table" or math.type(t.number) ~= "integer" or type(t.file) ~= "string" then
      return nil
    end
    takes[#takes + 1] = { number = t.number, file = t.file, seed = t.seed }
  end
  return takes, document.chosen
end

local function take_numbered(takes, number)
  for _, t in ipairs(takes) do
    if t.number == number then return t end
  end
end

-- The stem and its takes behind the item's active take, or nil and what is wrong.
local function omnifoa_stem(file)
  local stem, number = stem_of(file)
  local document = read_json(stem .. ".json", MAX_SIDECAR_BYTES)
  if not document or document.schema ~= "omnifoa-stem" then
    return nil, file .. " is not an omnifoa stem (there is no omnifoa sidecar " .. stem
      .. ".json beside it); regenerate works on the stems omnifoa writes."
  end
  local takes, chosen = sidecar_takes(stem, document)
  if not takes or not take_numbered(takes, chosen) then
    return nil, stem .. ".json lists its takes in a form omnifoa did not write; restore it or "
      .. "generate the stem again."
  end
  if number and not take_numbered(takes, number) then
    return nil, file .. " is not one of the takes " .. stem .. ".json lists."
  end
  return { path = stem, folder = folder_of(stem), takes = takes, chosen = chosen,
           playing = number or chosen }
end

-- ---------------------------------------------------------------- the range

-- Seconds into the stem under the time selection (project time minus the item's position plus
-- the take's start offset), clipped to the item and to its audio; nil and what is wrong when
-- there are none.
local function stem_range(item, take, source)
  local sel_start, sel_end = reaper.GetSet_LoopTimeRange(false, false, 0, 0, false)
  if not (sel_end > sel_start) then
    return nil, "Make a time selection over the part of the item to regenerate, then run "
      .. "this action again."
  end
  local playrate = reaper.GetMediaItemTakeInfo_Value(take, "D_PLAYRATE")
  if playrate ~= 1 then
    return nil, "The item's active take plays at rate " .. playrate .. "; set its playback "
      .. "rate to 1.0 to regenerate a range of it."
  end
  local position = reaper.GetMediaItemInfo_Value(item, "D_POSITION")
  local length = reaper.GetMediaItemInfo_Value(item, "D_LENGTH")
  local offset = reaper.GetMediaItemTakeInfo_Value(take, "D_STARTOFFS")
  local from_time = math.max(sel_start, position)
  local to_time = math.min(sel_end, position + length)
  if not (to_time > from_time) then
    return nil, string.format("The time selection (%.3f to %.3f s) does not overlap the "
      .. "selected item (%.3f to %.3f s); select part of the item.", sel_start, sel_end,
      position, position + length)
  end
  local audio = reaper.GetMediaSourceLength(source) -- (length, lengthIsQN): seconds first
  -- On the stem's sample grid: 3.3 - 2.0 is 1.2999999999999998 in doubles, sample 62400 at
  -- 48 kHz is 1.3 again, the boundary the user meant and the one omnifoa cuts at.
  local rate = reaper.GetMediaSourceSampleRate(source)
  local function on_grid(t) return math.floor(t * rate + 0.5) / rate end
  local from = math.max(0, on_grid(offset + (from_time - position)))
  local to = math.min(audio, on_grid(offset + (to_time - position)))
  if not (to > from) then
    return nil, "The time selection covers no audio of the item's file; select part of the "
      .. "item where it plays its file."
  end
  return from, to
end

-- ---------------------------------------------------------------- running omnifoa

-- An argument in double quotes, or nil when it holds a character that a command line could
-- read in more than one way (quotes, $, `, control characters; \ in a POSIX path).
local function quoted(arg)
  if arg:find('[%c"$`]') or (arg:sub(1, 1) == "/" and arg:find("\\", 1, true)) then
    return nil
  end
  return '"' .. arg .. '"'
end

local function command_line(base, args)
  local parts = {}
  for _, list in ipairs({ base, args }) do
    for _, arg in ipairs(list) do
      local q = quoted(arg)
      if not q then
        return nil, "omnifoa cannot pass " .. arg .. " safely on a command line (it holds a "
          .. "quote, $, ` or a control character); rename or move it and try again."
      end
      parts[#parts + 1] = q
    end
  end
  return table.concat(parts, " ")
end

-- The command's own error sentence (its "omnifoa: error: ..." line), else its last line.
local function error_sentence(output, code)
  local found, last
  for line in output:gmatch("[^\r\n]+") do
    local sentence = line:match("^omnifoa: error: (.+)$")
    if sentence then found = sentence end
    if line:find("%S") and not line:find("%d+%%|") then last = line end
  end
  return found or ("omnifoa stopped (exit code " .. code .. ")" .. (last and (": " .. last) or "."))
end

-- Run one prepared command line; true, or nil and the sentence to show.
local function run(cmdline)
  local result = reaper.ExecProcess(cmdline, TIMEOUT_MS)
  local code, output = (result or ""):match("^(%-?%d+)\r?\n?(.*)$")
  if not code then
    return nil, "omnifoa could not be run, or did not finish within 10 minutes; check the "
      .. "command `omnifoa reaper link` wrote into bridge.json."
  end
  if tonumber(code) ~= 0 then return nil, error_sentence(output, code) end
  return true
end

local function omnifoa_command()
  local config = read_json(reaper.GetResourcePath() .. "/omnifoa/bridge.json", MAX_CONFIG_BYTES)
  local command = config and config.omnifoa_command
  if type(command) ~= "table" or #command < 1 or #command > 16 then
    return nil, "REAPER does not know how to run omnifoa yet: run `omnifoa reaper link` in a "
      .. "terminal once, then run this action again."
  end
  for _, arg in ipairs(command) do
    if type(arg) ~= "string" or #arg == 0 then
      return nil, "bridge.json holds a broken omnifoa command; run `omnifoa reaper link` again."
    end
  end
  if not is_absolute(command[1]) then
    return nil, "bridge.json's omnifoa command does not start with an absolute path; run "
      .. "`omnifoa reaper link` again."
  end
  return command
end

local function number_arg(x)
  return string.format("%.17g", x) -- every digit: the CLI reads back the very same double
end

-- ---------------------------------------------------------------- the item

local function source_file(take)
  local source = take and reaper.GetMediaItemTake_Source(take)
  return source and reaper.GetMediaSourceFileName(source), source
end

local function take_name(t)
  return "take " .. t.number .. " (seed " .. tostring(t.seed) .. ")"
end

local function take_file(stem, t)
  return stem.folder .. t.file
end

-- The item's takes after a regeneration: the new ones added (start offset as the active
-- take's), any take that played the stem's own file pointed at the take it played (that
-- file now plays the new take), the chosen one active; all sources opened first.
local function apply(item, offset, stem, before, after)
  local known = {}
  for _, t in ipairs(before) do known[t.number] = true end
  local added = {}
  for _, t in ipairs(after.takes) do
    if not known[t.number] then
      local source = reaper.PCM_Source_CreateFromFile(take_file(stem, t))
      if not source then return nil, "REAPER cannot read the new take " .. take_file(stem, t) .. "." end
      added[#added + 1] = { take = t, source = source }
    end
  end
  if #added == 0 then return nil, stem.path .. ".json lists no new take; nothing was added." end
  local kept = take_numbered(after.takes, stem.playing)
  local kept_source
  if kept and take_file(stem, kept) ~= stem.path then
    kept_source = reaper.PCM_Source_CreateFromFile(take_file(stem, kept))
  end
  reaper.Undo_BeginBlock()
  local ok, err = pcall(function()
    for k = 0, reaper.CountTakes(item) - 1 do
      local take = reaper.GetMediaItemTake(item, k)
      if kept_source and source_file(take) == stem.path then
        reaper.SetMediaItemTake_Source(take, kept_source)
      end
    end
    local active
    for _, new in ipairs(added) do
      local take = reaper.AddTakeToMediaItem(item)
      reaper.SetMediaItemTake_Source(take, new.source)
      reaper.SetMediaItemTakeInfo_Value(take, "D_STARTOFFS", offset)
      reaper.GetSetMediaItemTakeInfo_String(take, "P_NAME", take_name(new.take), true)
      if new.take.number == after.chosen or not active then active = take end
    end
    reaper.SetActiveTake(active)
    reaper.UpdateItemInProject(item)
  end)
  reaper.Undo_EndBlock(UNDO, -1)
  reaper.UpdateArrange()
  if not ok then return nil, "REAPER refused a change: " .. tostring(err) end
  return true
end

local function main()
  local count = reaper.CountSelectedMediaItems(0)
  if count ~= 1 then
    return tell("Select one omnifoa item (" .. (count == 0 and "none is" or (count .. " are"))
      .. " selected) and make a time selection over the part to regenerate.")
  end
  local item = reaper.GetSelectedMediaItem(0, 0)
  local take = reaper.GetActiveTake(item)
  local file, source = source_file(take)
  if not file or file == "" then
    return tell("The selected item has no audio file to regenerate; select an omnifoa item.")
  end
  local stem, problem = omnifoa_stem(file)
  if not stem then return tell(problem) end
  local from, to = stem_range(item, take, source)
  if not from then return tell(to) end
  local command, missing = omnifoa_command()
  if not command then return tell(missing) end
  local regenerate, bad = command_line(command, {
    "regenerate", stem.path, "--from", number_arg(from), "--to", number_arg(to) })
  if not regenerate then return tell(bad) end
  -- The active take is the audio to regenerate: make it the stem's chosen take first.
  local choose, restore
  if stem.playing ~= stem.chosen then
    choose = command_line(command, { "takes", stem.path, "--choose", tostring(stem.playing) })
    restore = command_line(command, { "takes", stem.path, "--choose", tostring(stem.chosen) })
    local ok, err = run(choose)
    if not ok then return tell(err) end
  end
  local ok, err = run(regenerate)
  if not ok then
    if restore then run(restore) end
    return tell(err)
  end
  local document = read_json(stem.path .. ".json", MAX_SIDECAR_BYTES)
  local takes, chosen = sidecar_takes(stem.path, document or {})
  if not document or not takes then
    return tell("omnifoa regenerated the range but " .. stem.path .. ".json cannot be read back; "
      .. "drop the stem again with `omnifoa reaper drop`.")
  end
  local offset = reaper.GetMediaItemTakeInfo_Value(take, "D_STARTOFFS")
  local applied, why = apply(item, offset, stem, stem.takes, { takes = takes, chosen = chosen })
  if not applied then tell(why) end
end

main()
